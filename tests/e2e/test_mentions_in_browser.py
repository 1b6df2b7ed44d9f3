"""Mentions in Chromium, three people: "@" offers the room's members by name prefix,
navigable by keyboard; the mentioned person sees the message highlighted and counted in
their room list; someone who is not mentioned sees neither."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import composer, send, wait_for_texts
from tests.e2e.test_unread_in_browser import room_list

pytestmark = pytest.mark.e2e


def test_a_mention_is_chosen_by_keyboard_and_highlighted_and_counted_for_its_person(
    new_person, unique
):
    room_name, elsewhere = unique("Mentions"), unique("Elsewhere")
    names = {key: unique(key) for key in ("Ana", "Bo", "Bora")}
    ana = join(new_person(), names["Ana"], room_name)
    bo_context = new_person()
    join(bo_context, names["Bo"], room_name).close()
    bo = join(bo_context, names["Bo"], elsewhere)  # reading another room
    bora = join(new_person(), names["Bora"], room_name)

    composer(ana).press_sequentially("lunch? @bo")
    suggestions = ana.get_by_role("listbox", name="People to mention")
    expect(suggestions.get_by_role("option")).to_have_text([names["Bo"], names["Bora"]])
    expect(composer(ana)).to_have_attribute("aria-expanded", "true")
    expect(suggestions.get_by_role("option", name=names["Bo"])).to_have_attribute(
        "aria-selected", "true"
    )
    composer(ana).press("ArrowDown")
    composer(ana).press("ArrowUp")
    composer(ana).press("Enter")  # chooses, does not send
    expect(suggestions).to_be_hidden()
    expect(composer(ana)).to_have_value(f"lunch? @{names['Bo']} ")
    composer(ana).press_sequentially("at noon")
    composer(ana).press("Enter")
    text = f"lunch? @{names['Bo']} at noon"
    wait_for_texts(bora, [text])

    # Bora sees the mention as a mention, not as one of hers.
    expect(bora.locator("#log .msg .mention")).to_have_text(f"@{names['Bo']}")
    expect(bora.locator("#log .msg--mentions-me")).to_have_count(0)
    # Bo, in another room, is told: one unread, one mention.
    entry = room_list(bo).get_by_role("link", name=room_name)
    expect(entry.locator(".badge")).to_have_count(2)
    expect(entry.locator(".badge--mention")).to_have_text("@1 mention of you")
    expect(entry).to_have_accessible_name(f"{room_name} 1 unread @1 mention of you")
    entry.click()
    wait_for_texts(bo, [text])
    expect(bo.locator("#log .msg--mentions-me .mention--me")).to_have_text(f"@{names['Bo']}")


def test_a_name_typed_without_choosing_it_stays_plain_text(new_person, unique):
    room_name = unique("Plain")
    ana = join(new_person(), unique("Ana"), room_name)
    bo_name = unique("Bo")
    bo = join(new_person(), bo_name, room_name)
    composer(ana).press_sequentially(f"@{bo_name}")
    composer(ana).press("Escape")  # closes the suggestions
    expect(ana.get_by_role("listbox", name="People to mention")).to_be_hidden()
    composer(ana).press("Enter")
    wait_for_texts(bo, [f"@{bo_name}"])
    expect(bo.locator("#log .mention")).to_have_count(0)
    send(ana, "and on")
    wait_for_texts(bo, [f"@{bo_name}", "and on"])
