"""Real server processes for the browser and scale-out tests: the production command
(uvicorn on the ASGI application), each on a free port, logging to a file."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def server_env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """This environment without the deployment's own settings, on a fresh var folder."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE_URL", "REDIS_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_VAR_DIR=str(var_dir),
        DJANGO_STATIC_ROOT=str(var_dir / "static"),
        CHAT_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    """Run a `manage.py` command with `env`; its output."""
    done = subprocess.run(
        [str(BIN / "python"), "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@dataclass
class LiveServer:
    port: int
    process: subprocess.Popen
    log_path: Path
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    origin = url  # what a browser on this server sends as Origin

    def socket_url(self, room_id: int) -> str:
        return f"ws://{self.host}:{self.port}/ws/rooms/{room_id}/"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(
    env: dict[str, str],
    log_path: Path,
    *,
    ready_path: str = "/readyz",
    host: str = HOST,
    run_in: tuple[str, ...] = (),
) -> LiveServer:
    """Start the production command, `bin/serve`, with one worker; wait until it answers.
    `run_in` prefixes the command (`ip netns exec HOST`, to run it on another host)."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                *run_in,
                str(ROOT / "bin" / "serve"),
                *("--host", host, "--port", str(port), "--workers", "1"),
            ],
            cwd=ROOT,
            env={**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(port, process, log_path, host)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(server.url + ready_path, timeout=2) as answer:
                if answer.status == 200:
                    return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server did not start:\n{log_path.read_text()}")
        time.sleep(0.1)


class FailoverProxy:
    """A TCP proxy in front of workers, like nginx with backup servers: each new connection
    goes to the first worker that accepts it, so when one stops, its clients reconnect to the
    next. It runs its own event loop in a thread, beside whatever loop the test has."""

    def __init__(self, workers: list[LiveServer]) -> None:
        self.workers = workers
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def __enter__(self) -> FailoverProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(5)
        return self

    def __exit__(self, *exc_info) -> None:
        asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._relay, HOST, self.port)

    async def _close(self) -> None:
        self._server.close()
        relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in relays:
            task.cancel()
        await asyncio.gather(*relays, return_exceptions=True)
        await self._server.wait_closed()

    async def _relay(self, client_reader, client_writer) -> None:
        for worker in self.workers:
            try:
                reader, writer = await asyncio.open_connection(HOST, worker.port)
                break
            except OSError:
                continue
        else:
            client_writer.close()
            return
        # Either side closing ends both, as a proxy does for a WebSocket.
        pipes = [
            asyncio.ensure_future(_pipe(client_reader, writer)),
            asyncio.ensure_future(_pipe(reader, client_writer)),
        ]
        try:
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            for stream in (writer, client_writer):
                stream.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except OSError:
        pass  # a side went away: the relay closes both
