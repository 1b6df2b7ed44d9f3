"""Who is typing and who is here, in Chromium, as several people see them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import composer, send

pytestmark = pytest.mark.e2e


def everyone_here(*pages) -> None:
    """Wait until each page's socket is open: its who-is-here counts them all."""
    for page in pages:
        expect(page.locator("#presence")).to_contain_text(f"{len(pages)} here")


def test_typing_shows_under_the_log_and_clears_when_the_message_arrives(new_person, unique):
    room = unique("Typing")
    ana = join(new_person(), unique("Ana"), room)
    bo_name = unique("Bo")
    bo = join(new_person(), bo_name, room)
    everyone_here(ana, bo)
    composer(bo).press_sequentially("hello the")
    typing = ana.locator("#typing")
    expect(typing).to_have_text(f"{bo_name} is typing…")
    expect(bo.locator("#typing")).to_have_text("")  # never oneself
    assert ana.locator("#log #typing").count() == 0  # outside the log
    composer(bo).press_sequentially("re")
    composer(bo).press("Enter")
    expect(typing).to_have_text("")


def test_two_and_more_people_typing_read_naturally(new_person, unique):
    room = unique("Busy typing")
    ana = join(new_person(), unique("Ana"), room)
    names = (unique("Bo"), unique("Cy"), unique("Dee"))
    bo, cy, dee = (join(new_person(), name, room) for name in names)
    for page in (bo, cy):
        composer(page).press_sequentially("hm")
    expect(ana.locator("#typing")).to_have_text(f"{names[0]} and {names[1]} are typing…")
    # All three go on typing together, as people do (each one's typing lasts 6 s after
    # their last update, however slowly the machine lets the others join or type).
    for word in ("me", " too,", " and", " I", " think", " so"):
        for page in (bo, cy, dee):
            composer(page).press_sequentially(word)
    expect(ana.locator("#typing")).to_have_text("Several people are typing…")


def test_emptying_the_box_stops_typing_and_a_silent_typist_fades(new_person, unique):
    room = unique("Fade")
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    everyone_here(ana, bo)
    composer(bo).press_sequentially("wait")
    expect(ana.locator("#typing")).not_to_have_text("")
    composer(bo).fill("")
    composer(bo).dispatch_event("input")
    expect(ana.locator("#typing")).to_have_text("")
    composer(bo).press_sequentially("again")
    expect(ana.locator("#typing")).not_to_have_text("")
    # Bo stops without sending: gone 6 s after his last update.
    expect(ana.locator("#typing")).to_have_text("", timeout=9_000)


def test_who_is_here_counts_people_once_and_changes_as_they_come_and_go(new_person, unique):
    room = unique("Here")
    ana_name, bo_name = unique("Ana"), unique("Bo")
    ana = join(new_person(), ana_name, room)
    here = ana.locator("#presence")
    expect(here).to_have_attribute("aria-label", "1 person here. Show who")
    bo_context = new_person()
    bo = join(bo_context, bo_name, room)
    expect(here).to_have_attribute("aria-label", "2 people here. Show who")
    second_tab = bo_context.new_page()
    second_tab.goto(bo.url)
    expect(composer(second_tab)).to_be_focused()
    cy = join(new_person(), unique("Cy"), room)
    expect(here).to_have_attribute("aria-label", "3 people here. Show who")  # Bo once
    here.click()
    names = ana.locator("#presence-list li")
    expect(names).to_have_count(3)
    assert f"{ana_name} (you)" in names.all_text_contents()
    assert bo_name in names.all_text_contents()
    cy.close()
    expect(here).to_have_attribute("aria-label", "2 people here. Show who")
    second_tab.close()
    expect(here).to_have_attribute("aria-label", "2 people here. Show who")  # one tab left
    bo.close()
    expect(here).to_have_attribute("aria-label", "1 person here. Show who")
    send(ana, "alone again")
