"""People in Chromium on different worker processes, over PostgreSQL and Redis, as deployed:
a proxy in front of the workers, one worker stopped with a real SIGTERM."""

from __future__ import annotations

import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext

from tests.deployment import Deployment, two_workers
from tests.e2e.conftest import TIMEOUT_MS, join
from tests.e2e.test_chat_in_browser import send, seqs, wait_for_texts
from tests.live_server import FailoverProxy, start_server

pytestmark = pytest.mark.e2e

# Notes each socket the page opens and how it closed, on the page's own clock.
RECORD_SOCKETS = """
window.socketLog = [];
const NativeWebSocket = window.WebSocket;
window.WebSocket = class extends NativeWebSocket {
  constructor(...args) {
    super(...args);
    const entry = { openedAt: performance.now(), closedAt: null, code: null };
    window.socketLog.push(entry);
    this.addEventListener("close", (event) => {
      entry.closedAt = performance.now();
      entry.code = event.code;
    });
  }
};
"""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[Deployment]:
    with two_workers(tmp_path_factory.mktemp("two-workers-e2e")) as deployment:
        yield deployment


def person(browser: Browser, url: str) -> BrowserContext:
    context = browser.new_context(base_url=url, viewport={"width": 900, "height": 640})
    context.set_default_timeout(TIMEOUT_MS)
    return context


def test_people_on_different_workers_talk_live_and_a_stopped_workers_people_resume_on_the_other(
    browser: Browser, deployment: Deployment, tmp_path: Path, screenshots_dir: Path
):
    leaving = start_server(deployment.env, tmp_path / "leaving.log")
    staying = deployment.workers[1]
    room = f"Across workers {secrets.token_hex(3)}"
    with FailoverProxy([leaving, staying]) as proxy:
        alice_context = person(browser, proxy.url)  # the proxy sends her to `leaving` first
        alice_context.add_init_script(RECORD_SOCKETS)
        bob_context = person(browser, staying.url)
        try:
            alice = join(alice_context, f"Alice {secrets.token_hex(2)}", room)
            bob = join(bob_context, f"Bob {secrets.token_hex(2)}", room)

            send(alice, "Hello from worker 1")
            wait_for_texts(bob, ["Hello from worker 1"])
            send(bob, "Hello back from worker 2")
            wait_for_texts(alice, ["Hello from worker 1", "Hello back from worker 2"])

            leaving.process.send_signal(signal.SIGTERM)
            alice.wait_for_function("() => window.socketLog[0].closedAt !== null")
            for text in ("Posted while Alice moves", "Posted while Alice moves"):
                send(bob, text)
            expected = [
                "Hello from worker 1",
                "Hello back from worker 2",
                "Posted while Alice moves",
                "Posted while Alice moves",
            ]
            wait_for_texts(alice, expected)
            wait_for_texts(bob, expected)
            assert seqs(alice) == [1, 2, 3, 4]

            sockets = alice.evaluate("window.socketLog")
            assert len(sockets) == 2, sockets  # the first reconnect found the other worker
            first, second = sockets
            assert first["code"] == 1012
            # "Restarting" means: go at once, no backoff (whose shortest wait is 250 ms).
            assert second["openedAt"] - first["closedAt"] < 250
            assert leaving.process.wait(15) in (0, -signal.SIGTERM)

            send(alice, "Still here, now on worker 2")
            wait_for_texts(bob, [*expected, "Still here, now on worker 2"])
            alice.screenshot(path=screenshots_dir / "two-workers-alice.png")
            bob.screenshot(path=screenshots_dir / "two-workers-bob.png")
        finally:
            alice_context.close()
            bob_context.close()
            leaving.stop()
