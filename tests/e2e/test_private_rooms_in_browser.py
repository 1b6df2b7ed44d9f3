"""Private rooms and direct conversations in Chromium, with three people: a direct
conversation appears live in the other person's room list and the third cannot see it or
open it by its address; an owner renames a room (everyone sees the new name at once),
makes it private, invites by a link, and removes a member, whose page says so."""

from __future__ import annotations

from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
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


def room_link(page: Page, name: str):
    return page.locator("#room-list-items").get_by_role("link", name=name)


def test_a_direct_conversation_reaches_the_other_person_live_and_stays_hidden_from_the_third(
    new_person, unique, screenshots_dir: Path
):
    ana_name, bo_name, cy_name = unique("Ana"), unique("Bo"), unique("Cy")
    lobby = unique("Lobby")
    ana = join(new_person(**DESKTOP), ana_name, lobby)
    bo = join(new_person(**DESKTOP), bo_name, lobby)
    cy = join(new_person(**DESKTOP), cy_name, lobby)

    ana.goto("/")
    ana.get_by_label("With").fill(bo_name)
    ana.get_by_role("button", name="Start").click()
    ana.wait_for_url("**/r/*/")
    expect(ana.get_by_role("heading", level=1)).to_have_text(bo_name)
    send(ana, "just between us")
    direct_url = ana.url

    # Bo, still in the lobby, sees the conversation arrive in his list, with its count.
    expect(room_link(bo, ana_name)).to_contain_text("1")
    bo.screenshot(path=screenshots_dir / "direct-arrives-desktop.png")
    room_link(bo, ana_name).click()
    bo.wait_for_url(direct_url)
    wait_for_texts(bo, ["just between us"])

    # Cy finds it nowhere, and its address is a page that does not exist.
    expect(room_link(cy, ana_name)).to_have_count(0)
    cy.goto("/")
    expect(cy.get_by_role("link", name=bo_name)).to_have_count(0)
    response = cy.goto(direct_url)
    assert response is not None and response.status == 404
    expect(cy.locator("body")).not_to_contain_text("just between us")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_owner_renames_makes_private_invites_and_removes_and_everyone_sees_it_live(
    new_person, unique, axe: Axe, scheme: str, screenshots_dir: Path
):
    room_name = unique(f"Planning {scheme}")
    owner_context = new_person(**DESKTOP, color_scheme=scheme)
    watch = PolicyWatch(owner_context)
    olga = join(owner_context, unique("Olga"), room_name)  # made it: its owner
    mia_name = unique("Mia")
    mia = join(new_person(**PHONE, color_scheme=scheme), mia_name, room_name)
    send(mia, "hello from Mia")

    olga.get_by_role("link", name="Settings").click()
    expect(olga.get_by_role("heading", level=1)).to_have_text(room_name)
    assert serious_violations(axe, olga) == []
    olga.get_by_role("textbox", name="Name").fill(unique(f"Secret plans {scheme}"))
    olga.get_by_role("button", name="Rename").click()
    expect(olga.get_by_role("status")).to_contain_text("Renamed.")
    expect(mia.get_by_role("heading", level=1)).to_have_text(unique(f"Secret plans {scheme}"))
    expect(mia).to_have_title(f"{unique(f'Secret plans {scheme}')} — Chat")

    olga.get_by_role("button", name="Make private").click()
    expect(olga.get_by_role("status")).to_contain_text("only its members see it")
    olga.get_by_role("button", name="Make a link").click()
    invite_url = olga.get_by_label("Anyone with this link can join").input_value()
    assert serious_violations(axe, olga) == []
    olga.screenshot(path=screenshots_dir / f"room-settings-desktop-{scheme}.png", full_page=True)

    # Someone new comes in by the link, as a guest with a name of their own.
    cy = new_person(**DESKTOP, color_scheme=scheme).new_page()
    cy.goto(invite_url)
    expect(cy.get_by_role("heading", level=1)).to_contain_text("Secret plans")
    assert serious_violations(axe, cy) == []
    cy.get_by_label("Name").fill(unique("Cy"))
    cy.get_by_role("button", name="Join").click()
    cy.wait_for_url("**/r/*/")
    wait_for_texts(cy, ["hello from Mia"])

    # Mia is removed: her page says so at once, and her socket is not let back in.
    olga.get_by_role("button", name=f"Remove {mia_name}").click()
    expect(olga.get_by_role("status")).to_contain_text("Removed from the room.")
    expect(mia.get_by_role("status")).to_contain_text("no longer are")
    mia.screenshot(path=screenshots_dir / f"removed-phone-{scheme}.png")
    response = mia.goto(olga.url.replace("settings", ""))
    assert response is not None and response.status == 404
    assert watch.violations(olga) == []
