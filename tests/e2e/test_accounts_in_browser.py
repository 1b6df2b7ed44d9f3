"""Accounts in Chromium: a guest keeps their name and messages by signing up, logs in from
another browser and sees them as their own; the account pages keep the site's policy and
pass axe in light and dark."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send, wait_for_texts
from tests.e2e.test_pages_are_safe_and_accessible import (
    DESKTOP,
    PHONE,
    PolicyWatch,
    serious_violations,
)

pytestmark = pytest.mark.e2e

PASSWORD = "blue kettle on the hill"


def fill_sign_up(page: Page, password: str = PASSWORD) -> None:
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Password again").fill(password)


def test_a_guest_keeps_their_name_and_messages_by_signing_up_and_logs_in_elsewhere(
    new_person, unique
):
    name, room_name = unique("Guest Gil"), unique("Keepsakes")
    first = new_person(**DESKTOP)
    room = join(first, name, room_name)
    send(room, "written while still a guest")
    wait_for_texts(room, ["written while still a guest"])
    room_url = room.url

    room.goto("/")
    room.get_by_role("link", name="Keep your name").click()
    expect(room.get_by_label("Name")).to_have_value(name)
    fill_sign_up(room)
    room.get_by_role("button", name="Keep my name").click()
    expect(room.get_by_role("status")).to_contain_text("your name and messages are yours")
    expect(room.get_by_role("link", name=name)).to_be_visible()  # the account page

    elsewhere = new_person(**DESKTOP).new_page()
    elsewhere.goto(room_url)  # a room needs a name: the front page offers to log in
    elsewhere.get_by_role("link", name="Log in").click()
    elsewhere.get_by_label("Name").fill(name.upper())
    elsewhere.get_by_label("Password").fill(PASSWORD)
    elsewhere.get_by_role("button", name="Log in").click()
    elsewhere.goto(room_url)
    wait_for_texts(elsewhere, ["written while still a guest"])
    expect(elsewhere.locator("#log .msg--mine")).to_have_count(1)


def test_a_wrong_password_says_so_and_the_right_one_then_works(new_person, unique):
    page = new_person(**DESKTOP).new_page()
    name = unique("Rosa")
    page.goto("/account/signup/")
    page.get_by_label("Name").fill(name)
    fill_sign_up(page)
    page.get_by_role("button", name="Sign up").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_contain_text("You are logged out")

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill("not it")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name=name)).to_be_visible()


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_account_pages_keep_the_policy_and_have_no_serious_accessibility_violations(
    new_person, unique, axe, device: str, scheme: str, screenshots_dir: Path
):
    context = new_person(**(DESKTOP if device == "desktop" else PHONE), color_scheme=scheme)
    watch = PolicyWatch(context)
    page = context.new_page()
    audited = []

    def audit(shot: str) -> None:
        audited.append(page.url)
        assert serious_violations(axe, page) == [], page.url
        page.screenshot(path=screenshots_dir / f"account-{shot}-{device}-{scheme}.png")

    page.goto("/account/signup/")
    page.get_by_role("button", name="Sign up").click()  # every error, tied to its field
    expect(page.locator(".field__error").first).to_be_visible()
    audit("sign-up-errors")
    page.goto("/account/login/")
    audit("login")
    page.goto("/account/password/reset/")
    audit("reset")
    page.goto("/account/signup/")
    page.get_by_label("Name").fill(unique(f"Audited {device} {scheme}"))
    fill_sign_up(page)
    page.get_by_role("button", name="Sign up").click()
    page.goto("/account/")
    audit("account")
    assert watch.violations(page) == [], audited
