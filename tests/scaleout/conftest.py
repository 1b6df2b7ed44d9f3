"""Two worker processes, as in production: uvicorn servers on their own ports, sharing one
PostgreSQL database and one Redis.

Each run makes its own database (dropped afterwards) and its own Redis key prefix (deleted
afterwards). Without PostgreSQL at SCALEOUT_POSTGRES (default postgres://postgres@127.0.0.1:5432)
or Redis at SCALEOUT_REDIS (default redis://127.0.0.1:6379/14), the tests skip and say why.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("SCALEOUT_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("SCALEOUT_REDIS", "redis://127.0.0.1:6379/14")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_admin():
    import psycopg

    try:
        return psycopg.connect(f"{POSTGRES}/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES} is not reachable: {exc}".strip())


def _redis_client():
    import redis

    client = redis.Redis.from_url(REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {REDIS} is not reachable: {exc}")
    return client


@dataclass
class Worker:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def socket_url(self, room_id: int) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/rooms/{room_id}/"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Deployment:
    env: dict[str, str]
    workers: list[Worker]


def _manage(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr


def start_worker(env: dict[str, str], log_path: Path) -> Worker:
    port = _free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
                "--ws-per-message-deflate",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return Worker(port, process, log_path)
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    admin = _postgres_admin()
    redis_client = _redis_client()
    name = f"chat_scaleout_{secrets.token_hex(4)}"
    prefix = f"scaleout-{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    var_dir = tmp_path_factory.mktemp("scaleout")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),  # shared: a session works on any worker
        DJANGO_VAR_DIR=str(var_dir),
        DJANGO_STATIC_ROOT=str(var_dir / "static"),
        DATABASE_URL=f"{POSTGRES}/{name}",
        REDIS_URL=REDIS,
        CHANNELS_REDIS_PREFIX=prefix,
        CHAT_RATE_BURST="100000",
        CHAT_RATE_PER_SECOND="100000",
        CHAT_LOG_LEVEL="WARNING",
    )
    workers: list[Worker] = []
    try:
        _manage(env, "migrate", "--no-input")
        _manage(env, "collectstatic", "--no-input")
        workers = [start_worker(env, var_dir / f"worker{n}.log") for n in (1, 2)]
        yield Deployment(env, workers)
    finally:
        for worker in workers:
            worker.process.terminate()
        for worker in workers:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
        for key in redis_client.scan_iter(f"{prefix}*"):
            redis_client.delete(key)
        redis_client.close()
