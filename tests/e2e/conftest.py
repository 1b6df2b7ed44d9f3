"""Browser tests against the real site: a uvicorn subprocess and Debian's Chromium.

The server runs as its own process on a free port, with its own SQLite file, exactly as
`manage.py migrate` + `uvicorn` would run it in production. This process never touches the
ORM (Playwright's sync API runs an event loop, and Django refuses sync ORM calls inside one);
data the tests need is made through the site itself or through `manage.py` subprocesses.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
TIMEOUT_MS = 5_000

expect.set_options(timeout=TIMEOUT_MS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ChatServer:
    url: str
    env: dict[str, str]
    log_path: Path

    def manage(self, *args: str) -> str:
        """Run a `manage.py` command against this server's database; return its stdout."""
        result = subprocess.run(
            [str(BIN / "python"), "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def seed_room(self, room: str, count: int, *, sender: str = "Seeder") -> None:
        self.manage("seed_room", room, str(count), "--sender", sender)


def _wait_until_up(url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within 30 s:\n{log_path.read_text()}")


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    var_dir = tmp_path_factory.mktemp("chat-e2e")
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SECRET_KEY", "DJANGO_DEBUG"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_DEBUG="0",
        DJANGO_VAR_DIR=str(var_dir),
        DJANGO_STATIC_ROOT=str(var_dir / "static"),
        CHAT_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    log_path = var_dir / "server.log"
    server = ChatServer(url=f"http://127.0.0.1:{port}", env=env, log_path=log_path)
    server.manage("migrate", "--no-input")
    server.manage("collectstatic", "--no-input")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(BIN / "uvicorn"),
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--ws-per-message-deflate",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(server.url + "/", process, log_path)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_person(
    browser: Browser, chat_server: ChatServer
) -> Iterator[Callable[..., BrowserContext]]:
    """A factory of people: each is a new browser context, so each has its own cookies."""
    contexts: list[BrowserContext] = []

    def make(**options) -> BrowserContext:
        context = browser.new_context(base_url=chat_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Names and rooms are unique site-wide, and the server lives for the whole session."""
    token = secrets.token_hex(3)
    return lambda text: f"{text} {token}"


def join(context: BrowserContext, name: str, room: str, *, page: Page | None = None) -> Page:
    """Join `room` as `name` from the front page, as a person would; return the room's page.

    Pass `page` to use one already prepared (for example, with its WebSocket routed)."""
    page = page or context.new_page()
    page.goto("/")
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Room", exact=True).fill(room)
    page.get_by_role("button", name="Join").click()
    page.wait_for_url("**/r/*/")
    expect(page.locator("#composer-text")).to_be_focused()
    return page


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
