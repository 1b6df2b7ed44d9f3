"""Switching rooms from the room list, in Chromium: the room beside the list changes in
place (no page load: the list and the page's own state stay), the address and Back follow,
and the room opened is as live as one loaded afresh: its messages, its socket, what is new
in the room left behind."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send, wait_for_texts
from tests.e2e.test_unread_in_browser import room_list

pytestmark = pytest.mark.e2e

MARK_THE_PAGE = """() => {
  window.__samePage = true;
  window.__list = document.getElementById("room-list-items");
}"""
STILL_THE_SAME_PAGE = """() => window.__samePage === true
  && document.getElementById("room-list-items") === window.__list"""


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_switching_rooms_keeps_the_page_and_the_new_room_is_live(
    new_person, unique, device, screenshots_dir
):
    from tests.e2e.test_pages_are_safe_and_accessible import DESKTOP, PHONE

    options = DESKTOP if device == "desktop" else PHONE
    first, second = unique(f"First {device}"), unique(f"Second {device}")
    ana_context = new_person(**options)
    ana_name = unique("Ana")
    join(ana_context, ana_name, second).close()
    ana = join(ana_context, ana_name, first)
    bo = join(new_person(), unique("Bo"), second)
    send(bo, "news in the second room")
    first_url = ana.url
    ana.evaluate(MARK_THE_PAGE)

    if device == "phone":
        ana.locator("#rooms-toggle").click()
    entry = room_list(ana).get_by_role("link", name=second)
    expect(entry.locator(".badge")).to_have_text("1 unread")
    entry.click()
    ana.wait_for_url(bo.url)
    wait_for_texts(ana, ["news in the second room"])
    assert ana.evaluate(STILL_THE_SAME_PAGE)
    expect(ana.locator("#room-name")).to_have_text(second)
    expect(ana.locator("#composer-text")).to_be_focused()
    if device == "phone":
        expect(room_list(ana)).to_be_hidden()  # the list makes way for the room
        ana.locator("#rooms-toggle").click()
    expect(room_list(ana).get_by_role("link", name=second)).to_have_attribute(
        "aria-current", "page"
    )
    expect(entry.locator(".badge")).to_have_count(0)  # read: it is on screen
    if device == "phone":
        room_list(ana).get_by_role("button", name="Close").click()

    # The room opened in place is live both ways, and so is the one left behind.
    send(ana, "hello from the second room")
    wait_for_texts(bo, ["news in the second room", "hello from the second room"])
    send(bo, "and back to you")
    wait_for_texts(
        ana, ["news in the second room", "hello from the second room", "and back to you"]
    )
    carol = join(new_person(), unique("Cy"), first)
    send(carol, "meanwhile in the first")
    if device == "phone":
        expect(ana.locator("#rooms-toggle")).to_have_accessible_name("Rooms, 1 unread")
        ana.locator("#rooms-toggle").click()
    expect(room_list(ana).get_by_role("link", name=first).locator(".badge")).to_have_text(
        "1 unread"
    )
    ana.screenshot(path=screenshots_dir / f"switched-room-{device}.png")

    # Back goes to the first room, still in place.
    ana.go_back()
    ana.wait_for_url(first_url)
    wait_for_texts(ana, ["meanwhile in the first"])
    assert ana.evaluate(STILL_THE_SAME_PAGE)
    expect(ana.locator("#room-name")).to_have_text(first)
    send(ana, "back in the first")
    wait_for_texts(carol, ["meanwhile in the first", "back in the first"])


def test_a_room_the_person_may_no_longer_open_is_left_to_the_browser(new_person, unique):
    """A switch that meets anything but a room page (here: the room is gone from the
    person's reach) loads that page as a link would, instead of a half-swapped room."""
    ana_context = new_person()
    ana_name = unique("Ana")
    here, there = unique("Here"), unique("There")
    join(ana_context, ana_name, there).close()
    ana = join(ana_context, ana_name, here)
    ana.route("**/r/*/", lambda route: route.fulfill(status=404, body="No such room."))
    room_list(ana).get_by_role("link", name=there).click()
    expect(ana.locator("body")).to_have_text("No such room.")


def test_the_last_room_clicked_is_the_one_shown(new_person, unique):
    """A slow room page that arrives after a later click does not take its place."""
    ana_context = new_person()
    ana_name = unique("Ana")
    slow, quick, here = unique("Slow"), unique("Quick"), unique("Here")
    join(ana_context, ana_name, slow).close()
    quick_page = join(ana_context, ana_name, quick)
    quick_url = quick_page.url
    quick_page.close()
    ana = join(ana_context, ana_name, here)
    held = []
    ana.route(
        "**/r/*/",
        lambda route: held.append(route) if route.request.url != quick_url else route.continue_(),
    )
    room_list(ana).get_by_role("link", name=slow).click()
    while not held:  # the slow room's page is on its way, and held there
        ana.wait_for_timeout(20)
    room_list(ana).get_by_role("link", name=quick).click()
    ana.wait_for_url(quick_url)
    expect(ana.locator("#room-name")).to_have_text(quick)
    with ana.expect_response(lambda response: response.url != quick_url):
        held[0].continue_()
    send(ana, "still in the quick room")
    expect(ana.locator("#room-name")).to_have_text(quick)
    assert ana.url == quick_url
