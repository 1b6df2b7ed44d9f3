"""Browser tests against the real site: a uvicorn subprocess and Debian's Chromium.

The server runs as its own process on a free port, with its own SQLite file, exactly as
`manage.py migrate` + `uvicorn` would run it in production. This process never touches the
ORM (Playwright's sync API runs an event loop, and Django refuses sync ORM calls inside one);
data the tests need is made through the site itself or through `manage.py` subprocesses.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from tests.deployment import UNLIMITED
from tests.live_server import ROOT, manage, server_env, start_server

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


@dataclass
class ChatServer:
    url: str
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        """Run a `manage.py` command against this server's database; return its stdout."""
        return manage(self.env, *args)

    def seed_room(
        self, room: str, count: int, *, sender: str = "Seeder", texts: Path | None = None
    ) -> None:
        """Add `count` messages to `room`: numbered ones, or the texts of a JSON list."""
        self.manage(
            "seed_room",
            room,
            str(count),
            "--sender",
            sender,
            *(("--texts", str(texts)) if texts else ()),
        )


@pytest.fixture(scope="session")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    var_dir = tmp_path_factory.mktemp("chat-e2e")
    env = server_env(var_dir, **UNLIMITED)  # every person in these tests is on 127.0.0.1
    manage(env, "migrate", "--no-input")
    manage(env, "collectstatic", "--no-input")
    manage(env, "webpush_keys")  # as `make run` does: the site sends Web Push
    server = start_server(env, var_dir / "server.log")
    try:
        yield ChatServer(url=server.url, env=env)
    finally:
        server.stop()


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


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()
