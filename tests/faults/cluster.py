"""A deployment of the test's own, to break: worker processes (the production command)
over a PostgreSQL database of its own reached through a fault proxy, and a Redis server of
its own that the test can stop and start again.

Every cluster's database is a copy of one migrated template, so a test starts in a
second or two; the template, the databases and the Redis servers are removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.deployment import POSTGRES, UNLIMITED
from tests.faults.proxy import FaultProxy
from tests.live_server import HOST, LiveServer, free_port, manage, server_env, start_server

REDIS_SERVER = shutil.which("redis-server")


def postgres_admin():
    import psycopg

    try:
        return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc}".strip())


class RedisServer:
    """A redis-server of the test's own on a free port, keeping nothing on disk."""

    def __init__(self, workdir: Path, *, bind: tuple[str, ...] = (HOST,)) -> None:
        if REDIS_SERVER is None:
            pytest.skip(
                "redis-server is not installed: the fault tests run Redis servers of their own"
            )
        self.port = free_port()
        self.workdir = workdir
        self.bind = bind
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port", str(self.port),
                "--bind", *self.bind,
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                "--protected-mode", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@dataclass
class Cluster:
    env: dict[str, str]
    database: str
    postgres: FaultProxy
    redis: RedisServer
    workdir: Path
    workers: list[LiveServer] = field(default_factory=list)

    def start_worker(self, host: Host | None = None, **env: str) -> LiveServer:
        """A worker on this machine, or on `host`, reaching PostgreSQL and Redis through
        the host's link to this machine."""
        number = len(self.workers) + 1
        log_path = self.workdir / f"worker{number}.log"
        if host is None:
            worker = start_server({**self.env, **env}, log_path)
        else:
            there = {
                key: self.env[key].replace(f"@{HOST}:", f"@{host.gateway}:")
                if key == "DATABASE_URL"
                else self.env[key].replace(f"//{HOST}:", f"//{host.gateway}:")
                for key in ("DATABASE_URL", "REDIS_URL")
            }
            worker = start_server(
                {**self.env, **there, **env}, log_path, host=host.address, run_in=host.run_in
            )
        self.workers.append(worker)
        return worker

    def manage(self, *args: str) -> str:
        return manage(self.env, *args)

    def kill(self, worker: LiveServer) -> None:
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait()

    def stored(self, room_id: int) -> list[tuple[int, str, str]]:
        """The room's messages as PostgreSQL holds them (not through the proxy):
        (seq, client_id, text), in order."""
        import psycopg

        with psycopg.connect(f"{POSTGRES}/{self.database}", connect_timeout=5) as connection:
            return connection.execute(
                "SELECT seq, client_id, text FROM chat_message WHERE room_id = %s ORDER BY seq",
                [room_id],
            ).fetchall()

    def last_seq(self, room_id: int) -> int:
        import psycopg

        with psycopg.connect(f"{POSTGRES}/{self.database}", connect_timeout=5) as connection:
            row = connection.execute(
                "SELECT last_seq FROM chat_room WHERE id = %s", [room_id]
            ).fetchone()
            return row[0]


@contextmanager
def template_database(workdir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated database to copy, and the static files, made once for all the tests."""
    admin = postgres_admin()
    name = f"chat_faults_template_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    env = server_env(workdir, DATABASE_URL=f"{POSTGRES}/{name}")
    try:
        manage(env, "migrate", "--no-input")
        manage(env, "collectstatic", "--no-input")
        yield name, {"DJANGO_STATIC_ROOT": env["DJANGO_STATIC_ROOT"]}
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextmanager
def cluster(
    workdir: Path,
    template: tuple[str, dict[str, str]],
    *,
    workers: int = 2,
    hosts: list[Host] | None = None,
    **env: str,
) -> Iterator[Cluster]:
    """Workers on this machine, or one on each of `hosts`."""
    listen_hosts = (HOST, *(host.gateway for host in hosts or ()))
    template_name, shared = template
    admin = postgres_admin()
    name = f"chat_faults_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    postgres = urlsplit(POSTGRES)
    redis = RedisServer(workdir, bind=listen_hosts)
    redis.start()
    proxy = FaultProxy(
        postgres.port or 5432, target_host=postgres.hostname or HOST, listen_hosts=listen_hosts
    )
    proxy.__enter__()
    (workdir / "prometheus").mkdir(exist_ok=True)
    cluster_env = server_env(
        workdir,
        **shared,
        PROMETHEUS_MULTIPROC_DIR=str(workdir / "prometheus"),
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DATABASE_URL=f"postgres://postgres@{HOST}:{proxy.port}/{name}?sslmode=disable",
        REDIS_URL=redis.url,
        **UNLIMITED,
    )
    if hosts:
        allowed = [HOST, "localhost", *(host.address for host in hosts)]
        cluster_env["DJANGO_ALLOWED_HOSTS"] = ",".join(allowed)
    cluster_env.update(env)
    result = Cluster(cluster_env, name, proxy, redis, workdir)
    try:
        for number in range(len(hosts) if hosts else workers):
            result.start_worker(hosts[number] if hosts else None)
        yield result
    finally:
        for worker in result.workers:
            if worker.process.poll() is None:
                worker.stop()
        proxy.__exit__(None, None, None)
        redis.stop()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@dataclass
class Host:
    """An app host of the test's own: a network namespace joined to this one by a veth
    pair. The host is `address`; this machine is `gateway` on the same link."""

    namespace: str
    link: str  # this side of the veth pair: set it down to cut the host off
    address: str
    gateway: str

    @property
    def run_in(self) -> tuple[str, ...]:
        return ("ip", "netns", "exec", self.namespace)

    def cut_off(self) -> None:
        _ip("link", "set", self.link, "down")

    def reconnect(self) -> None:
        _ip("link", "set", self.link, "up")


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextmanager
def app_hosts(count: int) -> Iterator[list[Host]]:
    if os.geteuid() != 0:
        pytest.skip("separate app hosts are network namespaces, which need root")
    if shutil.which("ip") is None:
        pytest.skip("separate app hosts need the ip command (iproute2)")
    tag = secrets.token_hex(2)
    subnet = 100 + secrets.randbelow(150)
    hosts: list[Host] = []
    try:
        for number in range(1, count + 1):
            host = Host(
                namespace=f"chat-{tag}-{number}",
                link=f"ch{tag}{number}a",
                address=f"10.{subnet}.{number}.2",
                gateway=f"10.{subnet}.{number}.1",
            )
            inside = f"ch{tag}{number}b"
            _ip("netns", "add", host.namespace)
            hosts.append(host)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", host.namespace)
            _ip("addr", "add", f"{host.gateway}/24", "dev", host.link)
            _ip("link", "set", host.link, "up")
            for command in (
                ("addr", "add", f"{host.address}/24", "dev", inside),
                ("link", "set", inside, "up"),
                ("link", "set", "lo", "up"),
            ):
                _ip("netns", "exec", host.namespace, "ip", *command)
    except subprocess.CalledProcessError as exc:
        _remove(hosts)
        pytest.skip(f"network namespaces cannot be made here: {exc.stderr.decode().strip()}")
    try:
        yield hosts
    finally:
        _remove(hosts)


def _remove(hosts: list[Host]) -> None:
    for host in hosts:
        subprocess.run(["ip", "link", "del", host.link], capture_output=True, timeout=10)
        subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True, timeout=10)
