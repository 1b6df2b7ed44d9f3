"""What is new, in Chromium: the front page counts what others posted in your rooms since
you read them; opening the room puts a "New" divider where you left off and reads it;
messages arriving while the tab is away are counted in its title and marked as new."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send, wait_for_texts

pytestmark = pytest.mark.e2e

LOOK_AWAY = """() => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.hasFocus = () => false;
  document.dispatchEvent(new Event("visibilitychange"));
}"""
LOOK_BACK = """() => {
  delete document.visibilityState;
  document.hasFocus = () => true;
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def reads_sent(page: Page) -> list[int]:
    """The read positions the page reports over its socket, as they go."""
    sent: list[int] = []

    def watch(socket) -> None:
        def frame(payload) -> None:
            data = json.loads(payload) if isinstance(payload, str) else {}
            if data.get("type") == "read":
                sent.append(data["seq"])

        socket.on("framesent", frame)

    page.on("websocket", watch)
    return sent


def my_room(page: Page, name: str):
    return (
        page.get_by_role("region", name="Your rooms").get_by_role("listitem").filter(has_text=name)
    )


def test_unread_counts_the_new_divider_and_reading_clear_each_other(new_person, unique):
    room_name = unique("Catch up")
    ana = join(new_person(), unique("Ana"), room_name)
    bo = join(new_person(), unique("Bo"), room_name)
    send(ana, "before Bo left")
    wait_for_texts(bo, ["before Bo left"])
    bo.goto("/")
    for text in ("one while away", "two while away", "three while away"):
        send(ana, text)
    bo.reload()
    expect(my_room(bo, room_name).locator(".badge")).to_have_text("3 unread")

    reads = reads_sent(bo)
    my_room(bo, room_name).get_by_role("link").click()
    divider = bo.locator("#log .new-divider")
    expect(divider).to_have_count(1)
    expect(divider.locator("+ .msg")).to_contain_text("one while away")
    expect(divider).to_be_in_viewport()
    bo.wait_for_function("() => !document.title.startsWith('(')")  # read, on screen
    _wait_until(lambda: bool(reads) and reads[-1] >= 4, bo)  # and told to the server
    bo.goto("/")
    expect(my_room(bo, room_name)).to_be_visible()
    expect(my_room(bo, room_name).locator(".badge")).to_have_count(0)


def test_messages_arriving_while_the_tab_is_away_are_counted_in_its_title_and_marked_new(
    new_person, unique
):
    room_name = unique("Away")
    ana = join(new_person(), unique("Ana"), room_name)
    bo = join(new_person(), unique("Bo"), room_name)
    send(ana, "seen at once")
    wait_for_texts(bo, ["seen at once"])
    title = bo.title()
    bo.evaluate(LOOK_AWAY)
    send(ana, "first while away")
    send(ana, "second while away")
    wait_for_texts(bo, ["seen at once", "first while away", "second while away"])
    expect(bo).to_have_title(f"(2) {title}")
    expect(bo.locator("#log .new-divider + .msg")).to_contain_text("first while away")

    bo.evaluate(LOOK_BACK)
    expect(bo).to_have_title(title)
    send(ana, "while looking")  # read as it comes: nothing new, and the divider stays put
    wait_for_texts(bo, ["seen at once", "first while away", "second while away", "while looking"])
    expect(bo).to_have_title(title)
    expect(bo.locator("#log .new-divider + .msg")).to_contain_text("first while away")


def _wait_until(condition, page: Page, timeout_ms: int = 10_000) -> None:
    waited = 0
    while not condition():
        assert waited < timeout_ms, "timed out"
        page.wait_for_timeout(50)  # lets Playwright deliver the socket's events
        waited += 50


def room_list(page: Page):
    return page.get_by_role("navigation", name="Your rooms")


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_room_list_counts_other_rooms_live_and_a_read_in_another_tab_clears_it(
    new_person, unique, axe, device: str, scheme: str, screenshots_dir
):
    from tests.e2e.test_pages_are_safe_and_accessible import (
        DESKTOP,
        PHONE,
        serious_violations,
    )

    options = {**(DESKTOP if device == "desktop" else PHONE), "color_scheme": scheme}
    busy, quiet = unique(f"Busy {device} {scheme}"), unique(f"Quiet {device} {scheme}")
    ana = join(new_person(**options), unique("Ana"), busy)
    bo_context = new_person(**options)
    bo_name = unique("Bo")
    join(bo_context, bo_name, busy).close()
    bo = join(bo_context, bo_name, quiet)
    title = bo.title()
    for text in ("first news", "second news"):
        send(ana, text)

    if device == "phone":
        expect(room_list(bo)).to_be_hidden()
        toggle = bo.locator("#rooms-toggle")
        expect(toggle).to_have_accessible_name("Rooms, 2 unread")
        bo.screenshot(path=screenshots_dir / f"room-list-closed-{device}-{scheme}.png")
        toggle.click()
    busy_entry = room_list(bo).get_by_role("link", name=busy)
    expect(busy_entry.locator(".badge")).to_have_text("2 unread")
    expect(room_list(bo).get_by_role("link", name=quiet)).to_have_attribute("aria-current", "page")
    expect(bo).to_have_title(f"(2) {title}")
    assert serious_violations(axe, bo) == []
    bo.screenshot(path=screenshots_dir / f"room-list-{device}-{scheme}.png")
    if device == "phone":
        room_list(bo).get_by_role("button", name="Close").click()
        expect(room_list(bo)).to_be_hidden()
        expect(toggle).to_be_focused()

    busy_url = ana.url  # the same person, reading the busy room in another tab
    other_tab = bo_context.new_page()
    other_tab.goto(busy_url)
    wait_for_texts(other_tab, ["first news", "second news"])
    expect(bo).to_have_title(title)
    if device == "phone":
        expect(toggle).to_have_accessible_name("Rooms")
        expect(toggle.locator(".badge")).to_be_hidden()
        toggle.click()
    expect(busy_entry.locator(".badge")).to_have_count(0)
