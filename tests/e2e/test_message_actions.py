"""Editing, deleting, reacting and replying in Chromium, as two or three people would."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import composer, send

pytestmark = pytest.mark.e2e


def message(page: Page, text: str):
    """The message in the log whose own words are `text` (a quote of it does not count)."""
    return page.locator("#log .msg").filter(has=page.locator(".msg__text", has_text=text))


def actions_of(page: Page, text: str):
    item = message(page, text)
    item.hover()
    return item.get_by_role("group", name="Actions for the message")


def test_an_edit_reaches_everyone_live_marked_edited_and_survives_a_reload(new_person, unique):
    room = unique("Edits")
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    send(ana, "see you at 5")
    expect(message(bo, "see you at 5")).to_have_count(1)

    actions_of(ana, "see you at 5").get_by_role("button", name="Edit").click()
    field = composer(ana)
    expect(field).to_have_value("see you at 5")
    expect(field).to_be_focused()
    field.fill("see you at 6")
    field.press("Enter")

    for page in (ana, bo):
        edited = message(page, "see you at 6")
        expect(edited).to_have_count(1)
        expect(edited.locator(".msg__edited")).to_have_text("(edited)")
        assert edited.locator(".msg__edited").get_attribute("title").startswith("Edited ")
    expect(message(bo, "see you at 5")).to_have_count(0)
    bo.reload()
    expect(message(bo, "see you at 6").locator(".msg__edited")).to_have_count(1)


def test_up_in_an_empty_composer_edits_ones_last_message_and_esc_cancels(new_person, unique):
    ana = join(new_person(), unique("Ana"), unique("Up"))
    send(ana, "first")
    send(ana, "second")
    field = composer(ana)
    field.fill("a draft")
    field.fill("")
    field.press("ArrowUp")
    expect(field).to_have_value("second")
    expect(ana.locator("#composer-context")).to_contain_text("Editing")
    field.press("Escape")
    expect(field).to_have_value("")
    expect(ana.locator("#composer-context")).to_be_hidden()
    assert message(ana, "second").locator(".msg__edited").count() == 0


def test_a_deleted_message_becomes_a_line_saying_so_for_everyone(new_person, unique):
    room = unique("Deletes")
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    send(ana, "oops, wrong room")
    expect(message(bo, "oops, wrong room")).to_have_count(1)
    # Bo may not delete Ana's message: he is offered no Delete.
    expect(actions_of(bo, "oops, wrong room").get_by_role("button", name="Delete")).to_have_count(0)

    ana.once("dialog", lambda dialog: dialog.accept())
    actions_of(ana, "oops, wrong room").get_by_role("button", name="Delete").click()

    for page in (ana, bo):
        expect(page.locator("#log .msg--deleted .msg__text")).to_have_text(
            "This message was deleted."
        )
        expect(page.get_by_text("oops, wrong room")).to_have_count(0)
    bo.reload()
    expect(bo.locator("#log .msg--deleted")).to_have_count(1)


def test_reactions_count_toggle_and_name_who_reacted(new_person, unique):
    room = unique("Reactions")
    ana_name, bo_name = unique("Ana"), unique("Bo")
    ana = join(new_person(), ana_name, room)
    bo = join(new_person(), bo_name, room)
    cy = join(new_person(), unique("Cy"), room)
    send(ana, "pizza tonight?")
    expect(message(cy, "pizza tonight?")).to_have_count(1)

    actions_of(bo, "pizza tonight?").get_by_role("button", name="Add a reaction").click()
    bo.get_by_role("dialog", name="Add a reaction").get_by_role(
        "button", name="React with 👍"
    ).click()
    # Ana adds the same one from the row; then any emoji, typed.
    thumbs = message(ana, "pizza tonight?").locator(".reaction", has_text="👍")
    expect(thumbs).to_have_attribute("aria-label", f"👍 1: {bo_name}")
    thumbs.click()
    expect(thumbs).to_have_attribute("aria-label", f"👍 2: you and {bo_name}")
    expect(thumbs).to_have_attribute("aria-pressed", "true")
    actions_of(cy, "pizza tonight?").get_by_role("button", name="Add a reaction").click()
    cy.get_by_label("Any emoji").fill("🍕")
    cy.get_by_label("Any emoji").press("Enter")

    for page in (ana, bo, cy):
        row = message(page, "pizza tonight?").locator(".reaction")
        expect(row).to_have_count(2)
        expect(row.first.locator(".reaction__count")).to_have_text("2")
    expect(message(cy, "pizza tonight?").locator(".reaction", has_text="👍")).to_have_attribute(
        "aria-label", f"👍 2: {bo_name} and {ana_name}"
    )

    thumbs.click()  # Ana takes hers back
    expect(message(bo, "pizza tonight?").locator(".reaction", has_text="👍")).to_have_attribute(
        "aria-label", "👍 1: you"
    )
    cy.reload()
    expect(message(cy, "pizza tonight?").locator(".reaction")).to_have_count(2)


def test_a_reply_quotes_its_original_and_jumps_to_it_loading_older_pages(
    new_person, unique, chat_server
):
    room = unique("Replies")
    chat_server.seed_room(room, 120)  # the original will be far above, on an older page
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    # Ana scrolls up to message 3 (older pages load as she goes) and answers it.
    while message(ana, "Message 3 of 120").count() == 0:
        ana.locator("#scroller").evaluate("el => { el.scrollTop = 0; }")
        ana.wait_for_timeout(100)
    actions_of(ana, "Message 3 of 120").get_by_role("button", name="Reply").click()
    expect(ana.locator("#composer-context")).to_contain_text("Replying to")
    send(ana, "about that, yes")

    quote = message(bo, "about that, yes").locator(".msg__quote")
    expect(quote).to_contain_text("Message 3 of 120")
    assert message(bo, "Message 3 of 120").count() == 0  # not on Bo's page yet
    quote.click()
    original = message(bo, "Message 3 of 120")
    expect(original).to_be_focused()
    expect(original).to_be_in_viewport()
    expect(original).to_have_class(re.compile(r"msg--highlight"))


def test_a_reply_to_a_deleted_message_says_so(new_person, unique):
    room = unique("Gone")
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    send(ana, "the plan is secret")
    actions_of(bo, "the plan is secret").get_by_role("button", name="Reply").click()
    send(bo, "what plan?")
    quote = message(ana, "what plan?").locator(".msg__quote")
    expect(quote).to_contain_text("the plan is secret")

    ana.once("dialog", lambda dialog: dialog.accept())
    actions_of(ana, "the plan is secret").get_by_role("button", name="Delete").click()
    for page in (ana, bo):
        expect(message(page, "what plan?").locator(".msg__quote")).to_contain_text(
            "Original message deleted"
        )
    bo.reload()
    expect(message(bo, "what plan?").locator(".msg__quote")).to_contain_text(
        "Original message deleted"
    )
    expect(bo.get_by_text("the plan is secret")).to_have_count(0)


def test_showing_the_actions_never_moves_the_readers_place(new_person, unique, chat_server):
    room = unique("Still")
    chat_server.seed_room(room, 60)
    ana = join(new_person(), unique("Ana"), room)
    ana.locator("#scroller").evaluate("el => { el.scrollTop = el.scrollHeight / 2; }")
    before = ana.locator("#scroller").evaluate("el => el.scrollTop")
    middle = message(ana, "Message 40 of 60")
    middle.hover()
    middle.get_by_role("button", name="Reply").focus()
    ana.keyboard.press("Tab")
    assert ana.locator("#scroller").evaluate("el => el.scrollTop") == before


def test_a_page_of_history_read_before_an_edit_never_undoes_it(new_person, unique, chat_server):
    room = unique("Stale")
    ana = join(new_person(), unique("Ana"), room)
    send(ana, "the old words")
    chat_server.seed_room(room, 60)  # Ana's message is now on the second page
    page = new_person().new_page()
    edits_seen: list[str] = []
    page.on(
        "websocket",
        lambda ws: ws.on(
            "framereceived",
            lambda payload: edits_seen.append(payload) if "message.edited" in payload else None,
        ),
    )
    held = []

    def read_now_answer_later(route) -> None:
        held.append((route, route.fetch()))  # the page as it is before the edit

    page.route("**/messages?before=*", read_now_answer_later)
    bo = join(page.context, unique("Bo"), room, page=page)
    bo.locator("#scroller").evaluate("el => { el.scrollTop = 0; }")  # asks for the older page
    bo.wait_for_timeout(300)
    assert len(held) == 1

    ana.reload()
    while message(ana, "the old words").count() == 0:
        ana.locator("#scroller").evaluate("el => { el.scrollTop = 0; }")
        ana.wait_for_timeout(100)
    actions_of(ana, "the old words").get_by_role("button", name="Edit").click()
    composer(ana).fill("the new words")
    composer(ana).press("Enter")
    while not edits_seen:
        bo.wait_for_timeout(50)

    route, stale = held[0]
    route.fulfill(response=stale)  # the page read before the edit arrives after it
    expect(message(bo, "the new words")).to_have_count(1)
    expect(message(bo, "the old words")).to_have_count(0)


def test_every_action_works_by_keyboard_alone(new_person, unique):
    room = unique("Keys")
    ana = join(new_person(), unique("Ana"), room)
    bo = join(new_person(), unique("Bo"), room)
    send(ana, "first, by Ana")
    send(bo, "second, by Bo")
    expect(message(ana, "second, by Bo")).to_have_count(1)
    # From the composer back into the log: one stop, the newest message.
    ana.keyboard.press("Shift+Tab")
    expect(message(ana, "second, by Bo")).to_be_focused()
    ana.keyboard.press("ArrowUp")
    mine = message(ana, "first, by Ana")
    expect(mine).to_be_focused()
    expect(mine.get_by_role("group")).to_be_visible()  # its actions show while focused
    ana.keyboard.press("Tab")
    expect(mine.get_by_role("button", name="Add a reaction")).to_be_focused()
    ana.keyboard.press("Enter")
    picker = ana.get_by_role("dialog", name="Add a reaction")
    expect(picker.get_by_role("button", name="React with 👍")).to_be_focused()
    ana.keyboard.press("Enter")
    expect(message(bo, "first, by Ana").locator(".reaction")).to_have_count(1)
    expect(mine.get_by_role("button", name="Add a reaction")).to_be_focused()  # back
    ana.keyboard.press("Tab")  # Reply
    ana.keyboard.press("Tab")  # Edit
    expect(mine.get_by_role("button", name="Edit")).to_be_focused()
    ana.keyboard.press("Enter")
    expect(composer(ana)).to_be_focused()
    composer(ana).press("End")
    composer(ana).press_sequentially(" (really)")
    composer(ana).press("Enter")
    expect(message(bo, "first, by Ana (really)")).to_have_count(1)
