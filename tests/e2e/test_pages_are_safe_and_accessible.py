"""Every page under its Content-Security-Policy in Chromium, and the front page and a room
audited with axe-core at desktop and phone widths, in light and dark."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import ChatServer, join
from tests.e2e.test_chat_in_browser import composer, send, wait_for_texts
from tests.live_server import manage

pytestmark = pytest.mark.e2e

RECORD_POLICY_VIOLATIONS = """
window.__policyViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__policyViolations.push(
    `${event.violatedDirective} blocked ${event.blockedURI || "inline"} on ${location.pathname}`
  );
});
"""

DESKTOP = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


class PolicyWatch:
    """Every Content-Security-Policy violation on the pages of one browser context: the
    pages' own events, and the console's "Refused to ..." lines."""

    def __init__(self, context: BrowserContext) -> None:
        context.add_init_script(RECORD_POLICY_VIOLATIONS)
        self.console: list[str] = []
        context.on(
            "console",
            lambda message: (
                self.console.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )

    def violations(self, page: Page) -> list[str]:
        return page.evaluate("window.__policyViolations") + self.console


@pytest.fixture
def admin_login(chat_server: ChatServer) -> tuple[str, str]:
    name, password = f"admin-{secrets.token_hex(3)}", secrets.token_urlsafe(16)
    manage(
        {**chat_server.env, "DJANGO_SUPERUSER_PASSWORD": password},
        "createsuperuser",
        "--no-input",
        "--username",
        name,
        "--email",
        "admin@example.org",
    )
    return name, password


def test_no_page_breaks_its_content_security_policy(
    new_person, unique, admin_login: tuple[str, str]
):
    context = new_person(**DESKTOP)
    watch = PolicyWatch(context)
    page = context.new_page()

    page.goto("/")
    page.get_by_role("button", name="Join").click()  # the form with its errors
    expect(page.locator(".field__error").first).to_be_visible()
    room = join(context, unique("Visitor"), unique("Policy"), page=page)
    send(room, "a message over a socket the policy allows")
    wait_for_texts(room, ["a message over a socket the policy allows"])
    room_path = room.url.removeprefix(room.url.split("/r/")[0])
    page.goto(room_path)  # the room again, now with history rendered by the server
    wait_for_texts(page, ["a message over a socket the policy allows"])
    page.goto("/r/999999999/")  # an error page
    visited = ["/", room_path, "/r/999999999/"]

    name, password = admin_login
    admin = context.new_page()
    admin.goto("/admin/login/")
    admin.get_by_label("Username").fill(name)
    admin.get_by_label("Password").fill(password)
    admin.get_by_role("button", name="Log in").click()
    expect(admin.get_by_role("link", name="Rooms")).to_be_visible()
    for path in (
        "/admin/",
        "/admin/chat/room/",
        "/admin/chat/room/?q=policy",
        "/admin/chat/message/",
        "/admin/chat/user/",
        "/admin/chat/room/add/",
    ):
        admin.goto(path)
        visited.append(path)
    admin.get_by_role("link", name="Rooms").first.click()
    admin.get_by_role("link", name=unique("Policy")).click()
    expect(admin.get_by_label("Name")).to_have_value(unique("Policy"))

    for each in (page, admin):
        assert watch.violations(each) == [], visited


def test_the_policy_watch_sees_an_inline_script_being_blocked(new_person):
    """The test above can fail: an inline script is refused, and seen."""
    context = new_person()
    watch = PolicyWatch(context)
    page = context.new_page()
    page.goto("/")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.__ran = true";
            document.head.append(script);
        }"""
    )
    expect(page.locator("body")).to_be_visible()
    page.wait_for_function("() => window.__policyViolations.length > 0")
    assert page.evaluate("window.__ran") is None
    assert any("script-src" in violation for violation in watch.violations(page))


def serious_violations(axe: Axe, page: Page) -> list[str]:
    response = axe.run(page).response
    return [
        f"{violation['impact']}: {violation['id']} ({violation['help']}) at "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in response["violations"]
        if violation["impact"] in ("critical", "serious")
    ]


@pytest.fixture(scope="module")
def audited_room(chat_server: ChatServer) -> Iterator[str]:
    room = f"Audit {secrets.token_hex(3)}"
    chat_server.seed_room(room, 60, sender=f"Seeder {secrets.token_hex(3)}")
    yield room


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_front_page_and_a_room_have_no_serious_accessibility_violations(
    new_person,
    unique,
    axe: Axe,
    audited_room: str,
    device: str,
    scheme: str,
    screenshots_dir: Path,
):
    options = DESKTOP if device == "desktop" else PHONE
    context = new_person(**options, color_scheme=scheme)
    page = context.new_page()
    page.goto("/")
    assert serious_violations(axe, page) == []
    page.get_by_role("button", name="Join").click()  # errors shown, and tied to their fields
    expect(page.locator(".field__error").first).to_be_visible()
    assert serious_violations(axe, page) == []

    room = join(context, unique(f"Reader {device} {scheme}"), audited_room, page=page)
    send(room, "My own message, in my own colours")
    # Formatting too: a link, inline code, a list and a code block too wide for a phone.
    send(room, "See https://example.com/a and `code`\n- one\n- two")
    send(room, "```\n" + "wide_code_line " * 20 + "\n```")
    expect(room.locator("#log .msg")).not_to_have_count(0)
    assert serious_violations(axe, room) == []
    room.screenshot(path=screenshots_dir / f"audit-room-{device}-{scheme}.png")
    # What axe counts as moderate, and people rely on all the same.
    expect(room.get_by_role("main")).to_have_count(1)
    expect(room.locator("#log")).to_have_role("list")
    expect(room.get_by_role("log").get_by_role("listitem")).not_to_have_count(0)


def test_the_history_scrolls_by_keyboard(new_person, unique, audited_room: str):
    room = join(new_person(**DESKTOP), unique("Keyboard reader"), audited_room)
    expect(room.locator("#log .msg")).not_to_have_count(0)
    history = room.get_by_role("region", name="Message history")
    # From the composer, back into the history (past the newest message, the log's one stop,
    # its links and buttons, and "Load older messages", if it is there).
    for _ in range(12):
        room.keyboard.press("Shift+Tab")
        if room.evaluate("document.activeElement.id") == "scroller":
            break
    expect(history).to_be_focused()
    # Focus passed "Load older messages" on the way, which scrolled it into view: back down.
    room.keyboard.press("End")
    newest = room.locator("#log .msg").last
    expect(newest).to_be_in_viewport()
    top_before = newest.bounding_box()["y"]
    room.keyboard.press("PageUp")
    # The newest message moves down the screen, out of view (older pages loading meanwhile
    # keep the reader in place, so it stays moved).
    expect(newest).not_to_be_in_viewport()
    assert newest.bounding_box()["y"] > top_before


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_lively_room_has_no_serious_accessibility_violations(
    new_person, unique, axe: Axe, device: str, scheme: str, screenshots_dir: Path
):
    """Edits, a deletion, reactions, a reply, someone typing, who is here, the actions and
    the reaction picker open: audited, and photographed for a person to look at."""
    from tests.e2e.test_message_actions import actions_of, message

    options = DESKTOP if device == "desktop" else PHONE
    room_name = unique(f"Lively {device} {scheme}")
    ana = join(new_person(**options, color_scheme=scheme), unique("Ana"), room_name)
    bo = join(new_person(**options, color_scheme=scheme), unique("Bo"), room_name)
    send(ana, "Lunch at noon?")
    actions_of(ana, "Lunch at noon?").get_by_role("button", name="Edit").click()
    composer(ana).fill("Lunch at 12:30? The new place on Rue Oberkampf")
    composer(ana).press("Enter")
    send(ana, "wrong room, sorry")
    ana.once("dialog", lambda dialog: dialog.accept())
    actions_of(ana, "wrong room, sorry").get_by_role("button", name="Delete").click()
    expect(bo.locator("#log .msg--deleted")).to_have_count(1)
    actions_of(bo, "Lunch at 12:30?").get_by_role("button", name="Reply").click()
    send(bo, "Works for me! I'll book a table for four.")
    composer(bo).press_sequentially("@an")  # a mention of Ana, chosen from the suggestions
    expect(bo.get_by_role("listbox", name="People to mention")).to_be_visible()
    assert serious_violations(axe, bo) == []
    bo.screenshot(path=screenshots_dir / f"lively-room-mention-{device}-{scheme}.png")
    composer(bo).press("Enter")
    composer(bo).press_sequentially("can you bring the reservation number?")
    composer(bo).press("Enter")
    expect(ana.locator("#log .msg--mentions-me")).to_have_count(1)
    for emoji in ("👍", "🎉"):
        actions_of(bo, "Lunch at 12:30?").get_by_role("button", name="Add a reaction").click()
        bo.get_by_role("button", name=f"React with {emoji}").click()
    expect(message(ana, "Lunch at 12:30?").locator(".reaction")).to_have_count(2)
    message(ana, "Lunch at 12:30?").locator(".reaction").first.click()
    composer(bo).press_sequentially("see you")
    expect(ana.locator("#typing")).not_to_have_text("")
    expect(ana.locator("#presence")).to_contain_text("2")

    actions_of(ana, "Works for me!")  # hovered: its actions show
    assert serious_violations(axe, ana) == []
    ana.screenshot(path=screenshots_dir / f"lively-room-{device}-{scheme}.png")
    actions_of(ana, "Works for me!").get_by_role("button", name="Add a reaction").click()
    expect(ana.get_by_role("dialog", name="Add a reaction")).to_be_visible()
    assert serious_violations(axe, ana) == []
    ana.screenshot(path=screenshots_dir / f"lively-room-picker-{device}-{scheme}.png")
    ana.keyboard.press("Escape")
    ana.locator("#presence").click()
    expect(ana.locator("#presence-list")).to_be_visible()
    assert serious_violations(axe, ana) == []
    ana.screenshot(path=screenshots_dir / f"lively-room-here-{device}-{scheme}.png")
    ana.keyboard.press("Escape")
    ana.locator("#notify-button").click()
    expect(ana.get_by_role("radio", name="Mentions only")).to_be_checked()
    assert serious_violations(axe, ana) == []
    ana.screenshot(path=screenshots_dir / f"lively-room-notify-{device}-{scheme}.png")
