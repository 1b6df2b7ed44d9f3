"""Start the servers under test: the product (bin/serve, as deployed) and the reference.

Each runs pinned to its cores (core 0 unless told otherwise; the load generator keeps core
1), with a raised open-files limit, logging to a file in its own temporary directory. The
product gets a fresh database per start (a SQLite file, or a PostgreSQL database made and
dropped for it) and, over Redis, its own key prefix, so every scenario begins from empty rooms.
"""

from __future__ import annotations

import asyncio
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench import httpclient

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
SERVER_CORES = "0"
LOADGEN_CORE = 1
OPEN_FILES = 65536  # 2,000 idle sockets plus the rest need more than the usual 1,024


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = OPEN_FILES if hard == resource.RLIM_INFINITY else min(OPEN_FILES, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def can_pin() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pin_this_process_to_loadgen_core() -> bool:
    if (os.cpu_count() or 1) < 2:
        return False
    os.sched_setaffinity(0, {LOADGEN_CORE})
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class ServerFailed(Exception):
    pass


class Server:
    """A server process under test; `kind` is "product" or "reference"."""

    kind = ""

    cores = SERVER_CORES

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"chat-bench-{self.kind}-"))
        self.log_path = self.workdir / "server.log"
        self.process: subprocess.Popen | None = None
        self._ps: psutil.Process | None = None

    @property
    def host(self) -> str:
        return HOST

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict[str, str]:
        return dict(os.environ)

    def prepare(self) -> None:
        """Anything to do before the process starts (migrations, static files)."""

    async def start(self) -> None:
        self.prepare()
        command = self.command()
        if can_pin():
            command = ["taskset", "-c", self.cores, *command]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=raise_open_files_limit,
                start_new_session=True,  # its own process group: stop() reaches every worker
            )
        self._ps = psutil.Process(self.process.pid)
        await self._wait_until_listening()

    async def _wait_until_listening(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                _, writer = await asyncio.open_connection(HOST, self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            return
        raise ServerFailed(f"{self.kind} server did not listen within {timeout} s")

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerFailed(
                f"{self.kind} server exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def log_complaints(self, limit: int = 20) -> list[str]:
        """Lines of the server's log that report a problem (it logs warnings and up)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        markers = ("Traceback", "ERROR", "WARNING", "Exception")
        return [line for line in lines if any(marker in line for marker in markers)][:limit]

    def _processes(self) -> list[psutil.Process]:
        """The server and its worker processes, if it forked any."""
        assert self._ps is not None
        return [self._ps, *self._ps.children(recursive=True)]

    def rss_bytes(self) -> int:
        return sum(process.memory_info().rss for process in self._processes())

    def cpu_seconds(self) -> float:
        return sum(sum(process.cpu_times()[:2]) for process in self._processes())

    async def join(self, *, name: str, room: str) -> tuple[str | None, int]:
        """A logged-in person in `room`: (session cookie or None, room id)."""
        raise NotImplementedError

    def socket_headers(self, session: str | None) -> dict[str, str]:
        headers = {"Origin": self.origin}
        if session is not None:
            headers["Cookie"] = f"sessionid={session}"
        return headers

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


class ProductServer(Server):
    """The product as `make serve` runs it. By default on its embedded parts (SQLite, the
    in-memory layer, one process); given `postgres` (a server URL without a database name)
    and `redis` URLs, on those, with `workers` processes."""

    kind = "product"

    def __init__(
        self,
        *,
        postgres: str = "",
        redis: str = "",
        workers: int = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.env = env or {}  # a scenario's own settings, over the benchmark's
        self.postgres = postgres
        self.redis = redis
        self.workers = workers
        self.database = f"chat_bench_{secrets.token_hex(4)}" if postgres else ""
        self.redis_prefix = f"chat-bench-{secrets.token_hex(4)}"

    @staticmethod
    def describe(*, postgres: str = "", redis: str = "", workers: int = 1) -> str:
        return ", ".join(
            [
                "PostgreSQL" if postgres else "SQLite",
                "Redis" if redis else "in-memory layer",
                f"{workers} worker{'s' if workers > 1 else ''}",
            ]
        )

    def environment(self) -> dict[str, str]:
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_"))
        }
        environment.update(
            {
                "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "0",
                "DJANGO_VAR_DIR": str(self.workdir),
                "DJANGO_STATIC_ROOT": str(self.workdir / "static"),
                # A benchmark's clients come from one address and send far faster than a
                # person may; lift the limits (the flood scenario sets its own).
                "CHAT_RATE_BURST": "1000000",
                "CHAT_RATE_PER_SECOND": "1000000",
                "CHAT_RATE_ADDRESS_BURST": "1000000",
                "CHAT_RATE_ADDRESS_PER_SECOND": "1000000",
                "CHAT_JOINS_PER_MINUTE": "1000000",
                "CHAT_JOINS_PER_MINUTE_PER_ADDRESS": "1000000",
                "CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS": "1000000",
                "CHAT_LOG_LEVEL": "WARNING",
            }
        )
        environment.update(self.env)
        if self.postgres:
            environment["DATABASE_URL"] = f"{self.postgres}/{self.database}"
        if self.redis:
            environment["REDIS_URL"] = self.redis
            environment["CHANNELS_REDIS_PREFIX"] = self.redis_prefix
        if self.workers > 1:
            environment["PROMETHEUS_MULTIPROC_DIR"] = str(self.workdir / "prometheus")
            (self.workdir / "prometheus").mkdir(exist_ok=True)
        return environment

    def manage(self, *arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *arguments],
            cwd=PROJECT_DIR,
            env=self.environment(),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise ServerFailed(f"manage.py {' '.join(arguments)} failed:\n{done.stderr[-3000:]}")
        return done.stdout

    def prepare(self) -> None:
        if self.postgres:
            self._postgres_admin(f'CREATE DATABASE "{self.database}"')
        self.manage("migrate", "--no-input")
        self.manage("collectstatic", "--no-input")

    def command(self) -> list[str]:
        return [
            str(PROJECT_DIR / "bin" / "serve"),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
        ]

    def stop(self) -> None:
        super().stop()
        if self.postgres:
            self._postgres_admin(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        if self.redis:
            import redis

            client = redis.Redis.from_url(self.redis)
            for key in client.scan_iter(f"{self.redis_prefix}*"):
                client.delete(key)
            client.close()

    def _postgres_admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(f"{self.postgres}/postgres", autocommit=True) as connection:
            connection.execute(statement)

    def seed_room(self, room: str, count: int) -> int:
        """Fill `room` with `count` messages through `manage.py seed_room`; its id."""
        output = self.manage("seed_room", room, str(count))
        found = re.search(r"\(room (\d+)\)", output)
        if found is None:
            raise ServerFailed(f"seed_room printed no room id: {output!r}")
        return int(found.group(1))

    async def join(self, *, name: str, room: str) -> tuple[str | None, int]:
        return await httpclient.join(HOST, self.port, name=name, room=room)


class ReferenceServer(Server):
    kind = "reference"

    def __init__(self) -> None:
        super().__init__()
        self._room_ids: dict[str, int] = {}

    def command(self) -> list[str]:
        return [sys.executable, "-m", "bench.reference_server", "--port", str(self.port)]

    async def join(self, *, name: str, room: str) -> tuple[str | None, int]:
        # No sessions here: a room is just a number the reference makes on first use.
        return None, self._room_ids.setdefault(room, len(self._room_ids) + 1)
