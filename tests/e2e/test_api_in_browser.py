"""The API seen from a browser: a person makes a token on their account page, sees it once,
a script uses it, and revoking it ends it; the API's documentation renders under the
site's policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from tests.e2e.test_accounts_in_browser import fill_sign_up
from tests.e2e.test_pages_are_safe_and_accessible import (
    DESKTOP,
    PolicyWatch,
    serious_violations,
)

pytestmark = pytest.mark.e2e


def test_a_token_is_made_shown_once_used_and_revoked_on_the_account_page(
    new_person, unique, axe: Axe, screenshots_dir: Path
):
    context = new_person(**DESKTOP)
    watch = PolicyWatch(context)
    page = context.new_page()
    page.goto("/account/signup/")
    page.get_by_label("Name").fill(unique("Rosa"))
    fill_sign_up(page)
    page.get_by_role("button", name="Sign up").click()
    page.goto("/account/")
    page.get_by_label("What it is for").fill("Deploy notices")
    page.get_by_role("button", name="Make a token").click()
    secret = page.get_by_label("New token").input_value()
    assert secret.startswith("chat_")
    expect(page.get_by_role("status")).to_contain_text("not shown again")
    assert serious_violations(axe, page) == []
    page.screenshot(path=screenshots_dir / "account-token.png", full_page=True)

    script = new_person().request  # a script elsewhere: no cookies, only the token
    headers = {"Authorization": f"Bearer {secret}"}
    me = script.get("/api/v1/me", headers=headers)
    assert (me.status, json.loads(me.body())["name"]) == (200, unique("Rosa"))

    page.reload()
    assert secret not in page.content()  # shown once
    page.get_by_role("button", name="Revoke Deploy notices").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    refused = script.get("/api/v1/me", headers=headers)
    assert (refused.status, json.loads(refused.body())["code"]) == (401, "invalid_token")
    assert watch.violations(page) == []


def test_the_api_documentation_renders_under_the_sites_policy(new_person, screenshots_dir: Path):
    context = new_person(**DESKTOP)
    watch = PolicyWatch(context)
    page = context.new_page()
    page.goto("/api/docs")
    expect(page.get_by_text("Chat API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/rooms/{room_id}/events").first).to_be_visible()
    page.screenshot(path=screenshots_dir / "api-docs.png")
    assert watch.violations(page) == []
