"""Browser notifications in Chromium: asked for from a button, never on load; while the tab
is hidden, a mention (by default) or every message (when chosen) shows one, for this room
and the person's other rooms; nothing while they look at the tab, or when they chose
nothing."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import composer, send, wait_for_texts
from tests.e2e.test_unread_in_browser import LOOK_AWAY, LOOK_BACK, _wait_until

pytestmark = pytest.mark.e2e

# The notifications a page shows, as they are made (headless Chromium draws none).
RECORD_NOTIFICATIONS = """
window.__notifications = [];
window.__permissionAsked = 0;
const Real = window.Notification;
class Recorded extends Real {
  constructor(title, options) {
    super(title, options);
    window.__notifications.push({ title, body: options?.body, tag: options?.tag });
    (window.__shown ??= []).push(this);
  }
  static get permission() { return Real.permission; }
  static requestPermission() { window.__permissionAsked += 1; return Real.requestPermission(); }
}
window.Notification = Recorded;
"""


def notifications(page: Page) -> list[dict]:
    return page.evaluate("window.__notifications")


def mention(page: Page, name: str, text: str) -> None:
    composer(page).press_sequentially(f"@{name[:3]}")
    expect(page.get_by_role("listbox", name="People to mention")).to_be_visible()
    composer(page).press("Enter")
    composer(page).press_sequentially(text)
    composer(page).press("Enter")


def test_notifications_follow_the_chosen_level_while_the_tab_is_hidden(new_person, unique):
    room_name = unique("Pings")
    ana = join(new_person(), unique("Ana"), room_name)
    bo_context = new_person(permissions=["notifications"])
    bo_context.add_init_script(RECORD_NOTIFICATIONS)
    bo_name = unique("Bo")
    bo = join(bo_context, bo_name, room_name)
    assert bo.evaluate("window.__permissionAsked") == 0  # never on load

    bell = bo.locator("#notify-button")
    expect(bell).to_have_accessible_name("Notifications: Mentions only")
    bell.click()
    expect(bo.get_by_role("radio", name="Mentions only")).to_be_checked()
    bo.keyboard.press("Escape")

    bo.evaluate(LOOK_AWAY)
    send(ana, "just chatting")
    mention(ana, bo_name, "are you in?")
    wait_for_texts(bo, ["just chatting", f"@{bo_name} are you in?"])
    bo.wait_for_function("() => window.__notifications.length > 0")
    assert notifications(bo) == [
        {
            "title": f"{unique('Ana')} mentioned you in {room_name}",
            "body": f"@{bo_name} are you in?",
            "tag": notifications(bo)[0]["tag"],
        }
    ]

    bo.evaluate(LOOK_BACK)
    bell.click()
    bo.get_by_role("radio", name="All messages").check()
    expect(bell).to_have_accessible_name("Notifications: All messages")
    send(ana, "seen while looking")
    wait_for_texts(bo, ["just chatting", f"@{bo_name} are you in?", "seen while looking"])
    bo.evaluate(LOOK_AWAY)
    send(ana, "shown while away")
    bo.wait_for_function("() => window.__notifications.length === 2")
    assert notifications(bo)[1]["body"] == "shown while away"

    # The level is the person's, kept: a reload (or another tab) shows it.
    bo.reload()
    expect(bo.locator("#notify-button")).to_have_accessible_name("Notifications: All messages")


def test_the_permission_is_asked_from_the_button(new_person, unique):
    context = new_person()
    context.add_init_script(RECORD_NOTIFICATIONS)
    page = join(context, unique("Cy"), unique("Asking"))
    page.locator("#notify-button").click()
    page.get_by_role("button", name="Turn on browser notifications").click()
    page.wait_for_function("() => window.__permissionAsked === 1")


def test_a_mention_in_another_room_is_notified_from_the_room_one_has_open(new_person, unique):
    room_name = unique("Where it happens")
    ana = join(new_person(), unique("Ana"), room_name)
    bo_context = new_person(permissions=["notifications"])
    bo_context.add_init_script(RECORD_NOTIFICATIONS)
    bo_name = unique("Bo")
    join(bo_context, bo_name, room_name).close()
    elsewhere = join(bo_context, bo_name, unique("Elsewhere"))
    elsewhere.evaluate(LOOK_AWAY)
    mention(ana, bo_name, "look at this")
    elsewhere.wait_for_function("() => window.__notifications.length === 1")
    (shown,) = notifications(elsewhere)
    assert shown["title"] == f"{unique('Ana')} mentioned you in {room_name}"

    # Clicking it opens that room in place (the page stays: the room list is the same).
    elsewhere.evaluate("window.__samePage = true")
    elsewhere.evaluate("window.__shown[0].dispatchEvent(new Event('click'))")
    expect(elsewhere.locator("#room-name")).to_have_text(room_name)
    wait_for_texts(elsewhere, [f"@{bo_name} look at this"])
    assert elsewhere.evaluate("window.__samePage") is True


def test_the_service_worker_shows_a_push_unless_that_room_is_in_front(
    new_person, unique, chat_server
):
    """Allowing notifications installs the service worker for the whole site (this headless
    browser reaches no push service, so its subscription fails quietly); a push delivered to
    the worker is shown as the server sent it, unless a tab in front shows that room."""
    context = new_person(permissions=["notifications"])
    page = join(context, unique("Bo"), unique("Pushed"))
    panel = page.locator("#notify-panel")
    expect(panel).to_have_attribute("data-push", "unavailable")
    page.locator("#notify-button").click()
    expect(panel.locator("[data-permission-note]")).to_have_text(
        "You are notified while a tab of the site is open."
    )
    page.keyboard.press("Escape")
    # A room opened in place from the list says the same.
    join(context, unique("Bo"), unique("Next door")).close()
    page.reload()
    page.get_by_role("navigation", name="Your rooms").get_by_role(
        "link", name=unique("Next door")
    ).click()
    expect(page.locator("#room-name")).to_have_text(unique("Next door"))
    expect(page.locator("#notify-panel")).to_have_attribute("data-push", "unavailable")
    page.go_back()
    expect(page.locator("#room-name")).to_have_text(unique("Pushed"))
    assert page.evaluate("navigator.serviceWorker.getRegistration().then(r => r.scope)") == (
        chat_server.url + "/"
    )
    devtools = context.new_cdp_session(page)
    registrations: list[dict] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda event: registrations.extend(event["registrations"]),
    )
    devtools.send("ServiceWorker.enable")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    while not registrations:  # DevTools reports the registration in an event of its own
        page.wait_for_timeout(20)

    room_path = urlsplit(page.url).path

    def deliver(tag: str, path: str) -> None:
        payload = {"title": f"Ana in {tag}", "body": "hello", "tag": tag, "url": path}
        devtools.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": chat_server.url,
                "registrationId": registrations[0]["registrationId"],
                "data": json.dumps(payload),
            },
        )

    # What the worker shows is recorded inside it as it is shown: Chromium's own list of shown
    # notifications (getNotifications) can lag behind or drop one on a busy machine.
    worker = next(w for w in context.service_workers if w.url.endswith("/sw.js"))
    worker.evaluate(
        """() => {
            self.__shown = [];
            const show = self.registration.showNotification.bind(self.registration);
            self.registration.showNotification = async (title, options) => {
                await show(title, options);
                self.__shown.push([title, options.body, options.tag]);
            };
        }"""
    )

    def shown() -> list[list[str]]:
        return worker.evaluate("self.__shown")

    # Playwright makes every page look focused; let this one be what a person would see.
    devtools.send("Emulation.setFocusEmulationEnabled", {"enabled": False})
    page.bring_to_front()
    page.evaluate(
        """() => { window.__heard = new Promise((resolve) =>
            navigator.serviceWorker.addEventListener("message", (e) => resolve(e.data))); }"""
    )
    deliver("chat-in-front", room_path)
    assert page.evaluate("window.__heard") == {"type": "push.in-front", "tag": "chat-in-front"}
    assert shown() == []

    deliver("chat-elsewhere", "/r/999999/#message-1")  # another room: the tab shows nothing
    _wait_until(shown, page)  # the worker shows it in its own time, and says nothing
    assert shown() == [["Ana in chat-elsewhere", "hello", "chat-elsewhere"]]
