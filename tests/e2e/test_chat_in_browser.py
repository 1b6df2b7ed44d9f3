"""People chatting in Debian's Chromium against the real server process."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, WebSocketRoute, expect

from tests.e2e.conftest import ChatServer, join

pytestmark = pytest.mark.e2e


# ---- helpers -----------------------------------------------------------------------------


def composer(page: Page):
    return page.get_by_label("Message", exact=True)


def send(page: Page, text: str) -> None:
    """Type `text` and press Enter; wait until the server has acknowledged it."""
    field = composer(page)
    field.fill(text)
    field.press("Enter")
    expect(field).to_have_value("")  # free for the next message at once
    expect(pending(page)).to_have_count(0)


def error_frame(code: str, detail: str, **fields) -> str:
    """An error frame as the server would send it (for a route to put in its place)."""
    return json.dumps({"type": "error", "code": code, "detail": detail, **fields})


def pending(page: Page):
    """The person's messages on their way: sent, not yet acknowledged."""
    return page.locator("#outbox .msg")


def texts(page: Page) -> list[str]:
    """Every message's text on the page, exactly (textContent), top to bottom."""
    return page.locator("#log .msg__text").evaluate_all("els => els.map(e => e.textContent)")


def seqs(page: Page) -> list[int]:
    return [
        int(s) for s in page.locator("#log .msg").evaluate_all("els => els.map(e => e.dataset.seq)")
    ]


def wait_for_texts(page: Page, expected: list[str]) -> None:
    """Wait until the log holds exactly `expected` (checked again as exact textContent)."""
    expect(page.locator("#log .msg")).to_have_count(len(expected))
    assert texts(page) == expected


def scroll_metrics(page: Page) -> dict:
    return page.locator("#scroller").evaluate(
        "el => ({top: el.scrollTop, height: el.scrollHeight, client: el.clientHeight})"
    )


def at_bottom(page: Page) -> bool:
    m = scroll_metrics(page)
    return m["height"] - m["top"] - m["client"] <= 2


# ---- talking -----------------------------------------------------------------------------


def test_two_people_see_each_others_messages_live(new_person, unique):
    room = unique("Kitchen")
    alice_name, bob_name = unique("Alice"), unique("Bob")
    alice = join(new_person(), alice_name, room)
    bob = join(new_person(), bob_name, room)

    send(alice, "Hi Bob!")
    wait_for_texts(bob, ["Hi Bob!"])
    send(bob, "Hello Alice 👋")
    wait_for_texts(alice, ["Hi Bob!", "Hello Alice 👋"])
    wait_for_texts(bob, ["Hi Bob!", "Hello Alice 👋"])

    # Own messages are marked as such on each side; names are shown.
    for page, mine, theirs in ((alice, 0, 1), (bob, 1, 0)):
        items = page.locator("#log .msg")
        expect(items.nth(mine)).to_have_class(re.compile(r"\bmsg--mine\b"))
        expect(items.nth(theirs)).not_to_have_class(re.compile(r"\bmsg--mine\b"))
    expect(bob.locator("#log .msg__sender")).to_have_text([alice_name, bob_name])
    expect(alice.locator("#log .msg__sender")).to_have_text([alice_name, bob_name])

    # Shift+Enter makes a new line; Enter sends the whole text as one message.
    field = composer(alice)
    field.press_sequentially("line one")
    field.press("Shift+Enter")
    field.press_sequentially("line two")
    expect(field).to_have_value("line one\nline two")
    expect(alice.locator("#log .msg")).to_have_count(2)  # nothing sent yet
    field.press("Enter")
    expect(field).to_have_value("")
    expect(field).to_be_focused()
    wait_for_texts(bob, ["Hi Bob!", "Hello Alice 👋", "line one\nline two"])
    wait_for_texts(alice, ["Hi Bob!", "Hello Alice 👋", "line one\nline two"])


def test_reloading_a_room_shows_its_history_in_order(new_person, unique):
    room = unique("History")
    alice = join(new_person(), unique("Alice"), room)
    sent = ["first", "second", "third", "fourth"]
    for text in sent:
        send(alice, text)
    wait_for_texts(alice, sent)

    alice.reload()
    wait_for_texts(alice, sent)
    assert seqs(alice) == [1, 2, 3, 4]
    tops = [box["y"] for box in (item.bounding_box() for item in alice.locator("#log .msg").all())]
    assert tops == sorted(tops), "oldest at the top"
    assert at_bottom(alice), "the newest message is in view"

    # Someone joining later sees the same history.
    carol = join(new_person(), unique("Carol"), room)
    wait_for_texts(carol, sent)


def test_markup_in_names_rooms_and_messages_is_shown_as_text(new_person, unique):
    eve_name = unique("<b>Eve</b>")
    room = unique("<i>lab</i> 🧪")
    hostile = [
        '<img src=x onerror="window.__pwned=1">',
        "<script>window.__pwned=2</script>",
        "&lt;b&gt;entities&lt;/b&gt; & <u>underline</u>",
    ]
    eve = join(new_person(), eve_name, room)
    reader = join(new_person(), unique("Reader"), room)
    for text in hostile:
        send(eve, text)
    wait_for_texts(reader, hostile)  # rendered live, by the script
    eve.reload()
    wait_for_texts(eve, hostile)  # rendered by the server's template
    eve.wait_for_load_state("load")

    for page in (eve, reader):
        assert page.evaluate("typeof window.__pwned") == "undefined"
        assert page.locator("#log img, #log b, #log i, #log u, #log script").count() == 0
        assert page.locator("h1.room__name").text_content() == room
        assert page.title().startswith(room)
        senders = page.locator("#log .msg__sender").all_text_contents()
        assert senders == [eve_name] * len(hostile)
    assert eve.locator(".room__me strong").text_content() == eve_name

    # The front page lists the room by its literal name.
    eve.goto("/")
    link = eve.get_by_role("link", name=room, exact=True)
    expect(link).to_have_count(1)
    assert link.text_content() == room
    assert eve.locator(".rooms i, .rooms b, .rooms img").count() == 0
    expect(eve.get_by_label("Name", exact=True)).to_have_value(eve_name)
    assert eve.evaluate("typeof window.__pwned") == "undefined"


def test_a_name_held_by_someone_else_is_refused_and_a_returning_browser_keeps_its_name(
    new_person, unique
):
    name = unique("Dana")
    room = unique("Names")
    dana_context = new_person()
    join(dana_context, name, room)

    # Someone else asks for the same name (in another case): refused, with a clear reason.
    other = new_person().new_page()
    other.goto("/")
    other.get_by_label("Name", exact=True).fill(name.upper())
    other.get_by_label("Room", exact=True).fill(room)
    other.get_by_role("button", name="Join").click()
    error = other.locator(".field__error")
    expect(error).to_contain_text("already taken")
    expect(error).to_contain_text(name.upper())
    assert "/r/" not in other.url
    expect(other.get_by_label("Name", exact=True)).to_have_value(name.upper())
    expect(other.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")

    # Dana comes back in the same browser: the name is still hers, prefilled.
    page = dana_context.new_page()
    page.goto("/")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    elsewhere = join(dana_context, name, unique("Elsewhere"), page=page)
    expect(elsewhere.locator(".room__me strong")).to_have_text(name)


# ---- reconnecting ------------------------------------------------------------------------


class FlakyLink:
    """Sits between a page and the server: forwards every frame, can drop the connection,
    and while `unreachable` refuses new connections before they open, as a dead server would.
    While `losing_replies`, frames from the server are lost on the way to the page."""

    def __init__(self, page: Page) -> None:
        self.unreachable = False
        self.losing_replies = False
        self.current: WebSocketRoute | None = None
        self.connections = 0
        self.refused = 0
        page.route_web_socket("**/ws/rooms/**", self._handle)

    def _handle(self, ws: WebSocketRoute) -> None:
        if self.unreachable:
            self.refused += 1
            ws.close(code=1006, reason="unreachable")  # before it opens: a failed handshake
            return
        self.connections += 1
        self.current = ws
        server = ws.connect_to_server()
        ws.on_message(server.send)
        server.on_message(lambda frame: None if self.losing_replies else ws.send(frame))

    def drop(self) -> None:
        """The server goes away: the page's socket closes, and new ones cannot open."""
        self.unreachable = True
        assert self.current is not None
        self.current.close(code=1011, reason="server gone")
        self.current = None
        self.losing_replies = False


def join_over_flaky_link(context: BrowserContext, name: str, room: str) -> tuple[Page, FlakyLink]:
    page = context.new_page()
    link = FlakyLink(page)
    return join(context, name, room, page=page), link


def go_offline(page: Page, link: FlakyLink) -> None:
    page.evaluate("window.__sameDocument = 'still here'")
    link.drop()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Connection lost. Reconnecting…")
    expect(page.get_by_role("button", name="Try now")).to_be_visible()
    expect(page.locator("#composer")).to_have_class(re.compile(r"\bcomposer--offline\b"))
    assert link.refused >= 1, "the page kept trying while the server was unreachable"


def come_back(page: Page, link: FlakyLink, *, by_itself: bool = False) -> None:
    """The server is reachable again; the page reconnects on its own backoff, or at once
    when the person presses "Try now"."""
    connections = link.connections
    link.unreachable = False
    if not by_itself:
        # Pressed in one step inside the page: its own backoff timer may have reconnected
        # since the link came back (the button is then hidden, and pressing is moot).
        page.evaluate(
            "() => { const button = document.getElementById('reconnect-now');"
            " if (!button.hidden) button.click(); }"
        )
    # The backoff after a few refused attempts is at most a few seconds.
    expect(page.get_by_role("status")).to_contain_text("Back online.", timeout=10_000)
    assert link.connections == connections + 1
    assert page.evaluate("window.__sameDocument") == "still here", "no page reload"


def test_a_dropped_connection_resumes_with_nothing_lost_or_doubled(new_person, unique):
    room = unique("Flaky")
    alice = join(new_person(), unique("Alice"), room)
    bob, link = join_over_flaky_link(new_person(), unique("Bob"), room)
    send(alice, "before the drop")
    wait_for_texts(bob, ["before the drop"])  # Bob is online

    go_offline(bob, link)
    missed = ["one", "two", "same again", "same again", "five"]
    for text in missed:
        send(alice, text)  # each acknowledged, so announced to the room already
    assert texts(bob) == ["before the drop"], "nothing arrives while offline"

    come_back(bob, link, by_itself=True)
    expected = ["before the drop", *missed]
    wait_for_texts(bob, expected)
    assert seqs(bob) == list(range(1, len(expected) + 1))
    # Still live afterwards, and still exactly once.
    send(alice, "after")
    send(alice, "and a marker")  # a repeat of anything would arrive before this
    wait_for_texts(bob, [*expected, "after", "and a marker"])
    assert seqs(bob) == list(range(1, len(expected) + 3))


def test_a_message_sent_while_offline_waits_in_the_outbox_and_is_delivered_once(
    new_person, unique, screenshots_dir: Path
):
    room = unique("Outbox")
    alice = join(new_person(), unique("Alice"), room)
    bob, link = join_over_flaky_link(new_person(), unique("Bob"), room)
    send(bob, "hello")
    wait_for_texts(alice, ["hello"])

    go_offline(bob, link)
    field = composer(bob)
    field.fill("written in a tunnel")
    field.press("Enter")
    expect(field).to_have_value("")
    expect(pending(bob).locator(".msg__text")).to_have_text(["written in a tunnel"])
    expect(pending(bob).locator(".msg__state")).to_have_text(["Waiting for the connection…"])
    assert texts(bob) == ["hello"]  # not in the log: not stored yet
    bob.screenshot(path=screenshots_dir / "room-offline.png")

    come_back(bob, link)
    expect(pending(bob)).to_have_count(0)
    wait_for_texts(bob, ["hello", "written in a tunnel"])
    wait_for_texts(alice, ["hello", "written in a tunnel"])
    expect(bob.locator("#log .msg").last).to_have_class(re.compile(r"\bmsg--mine\b"))
    # Exactly once: a message posted after it arrives after it, and nothing in between.
    send(bob, "and after it")
    wait_for_texts(alice, ["hello", "written in a tunnel", "and after it"])


def test_a_message_whose_acknowledgement_was_lost_is_resent_but_stored_once(new_person, unique):
    room = unique("Lost ack")
    alice = join(new_person(), unique("Alice"), room)
    bob, link = join_over_flaky_link(new_person(), unique("Bob"), room)
    send(bob, "hello")
    wait_for_texts(alice, ["hello"])

    # The server stores Bob's message, but the connection dies before Bob hears back.
    link.losing_replies = True
    field = composer(bob)
    field.fill("only once, please")
    field.press("Enter")
    wait_for_texts(alice, ["hello", "only once, please"])
    expect(pending(bob)).to_have_count(1)
    go_offline(bob, link)

    # Bob's page resends it under the same id on reconnecting; the server knows it already.
    come_back(bob, link)
    expect(pending(bob)).to_have_count(0)
    wait_for_texts(bob, ["hello", "only once, please"])
    send(alice, "next")
    wait_for_texts(bob, ["hello", "only once, please", "next"])
    assert texts(alice) == ["hello", "only once, please", "next"]
    assert seqs(bob) == [1, 2, 3]


def test_messages_sent_offline_survive_a_reload_and_are_each_stored_once_in_order(
    new_person, unique, screenshots_dir: Path
):
    room = unique("Tunnel")
    alice = join(new_person(), unique("Alice"), room)
    bob, link = join_over_flaky_link(new_person(), unique("Bob"), room)
    send(bob, "before the tunnel")
    wait_for_texts(alice, ["before the tunnel"])

    go_offline(bob, link)
    written = ["first in the tunnel", "second in the tunnel", "third in the tunnel"]
    for text in written:
        composer(bob).fill(text)
        composer(bob).press("Enter")
    expect(pending(bob).locator(".msg__text")).to_have_text(written)

    bob.reload()  # the server is still unreachable for sockets
    expect(pending(bob).locator(".msg__text")).to_have_text(written)
    expect(bob.get_by_role("status")).to_contain_text("Connection lost")
    bob.screenshot(path=screenshots_dir / "room-outbox-after-reload.png")
    assert texts(alice) == ["before the tunnel"]

    link.unreachable = False
    bob.get_by_role("button", name="Try now").click()
    expect(pending(bob)).to_have_count(0)
    expected = ["before the tunnel", *written]
    wait_for_texts(bob, expected)
    wait_for_texts(alice, expected)
    send(alice, "welcome back")
    wait_for_texts(bob, [*expected, "welcome back"])
    assert seqs(bob) == [1, 2, 3, 4, 5]
    bob.reload()  # acknowledged messages are gone from the outbox for good
    wait_for_texts(bob, [*expected, "welcome back"])
    expect(pending(bob)).to_have_count(0)


def test_a_message_whose_outcome_is_unknown_is_resent_under_its_id_and_stored_once(
    new_person, unique
):
    room = unique("Unknown")
    alice = join(new_person(), unique("Alice"), room)
    page = new_person().new_page()
    sent_ids: list[str] = []

    def answer_the_first_post_with_outcome_unknown(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(frame) -> None:
            data = json.loads(frame)
            if data["type"] == "message.send":
                sent_ids.append(data["client_id"])
            server.send(frame)

        def from_server(frame) -> None:
            data = json.loads(frame)
            if data["type"] == "message.created" and len(sent_ids) == 1:
                return  # committed, but the connection went before it could be announced
            if data["type"] == "ack" and len(sent_ids) == 1:
                # Stored, but the answer was lost with the database connection.
                frame = error_frame(
                    "outcome_unknown",
                    "It may or may not be stored.",
                    client_id=data["client_id"],
                    retry_after_ms=100,
                )
            ws.send(frame)

        ws.on_message(from_page)
        server.on_message(from_server)

    page.route_web_socket("**/ws/rooms/**", answer_the_first_post_with_outcome_unknown)
    bob = join(page.context, unique("Bob"), room, page=page)
    send(bob, "stored once whatever happened")
    assert len(sent_ids) == 2 and sent_ids[0] == sent_ids[1], "resent under the same id"
    send(alice, "next")
    wait_for_texts(bob, ["stored once whatever happened", "next"])
    wait_for_texts(alice, ["stored once whatever happened", "next"])


def test_a_message_the_server_failed_on_offers_retry_under_its_id_and_discard(
    new_person, unique, screenshots_dir: Path
):
    room = unique("Failed")
    alice = join(new_person(), unique("Alice"), room)
    page = new_person().new_page()
    sent_ids: list[str] = []

    def fail_the_first_post(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(frame) -> None:
            data = json.loads(frame)
            if data["type"] == "message.send":
                sent_ids.append(data["client_id"])
                if len(sent_ids) == 1:
                    ws.send(
                        error_frame(
                            "internal_error",
                            "The server failed while storing this message.",
                            client_id=data["client_id"],
                        )
                    )
                    return
            server.send(frame)

        ws.on_message(from_page)
        server.on_message(ws.send)

    page.route_web_socket("**/ws/rooms/**", fail_the_first_post)
    bob = join(page.context, unique("Bob"), room, page=page)
    composer(bob).fill("try me again")
    composer(bob).press("Enter")
    failed = pending(bob)
    # It may be stored after all: "not confirmed", not "not sent"; and said out loud.
    expect(failed.locator(".msg__state")).to_contain_text(
        "Not confirmed: The server failed while storing this message."
    )
    expect(bob.get_by_role("alert")).to_contain_text("Not confirmed: “try me again”.")
    bob.screenshot(path=screenshots_dir / "room-message-failed.png")
    failed.get_by_role("button", name="Retry").click()
    expect(pending(bob)).to_have_count(0)
    wait_for_texts(alice, ["try me again"])
    assert sent_ids[0] == sent_ids[1], "Retry sends it under its own id"

    # A failed message can be discarded: it leaves the outbox, also after a reload.
    sent_ids.clear()
    composer(bob).fill("never mind")
    composer(bob).press("Enter")
    pending(bob).get_by_role("button", name="Discard").click()
    expect(pending(bob)).to_have_count(0)
    bob.reload()
    wait_for_texts(bob, ["try me again"])
    expect(pending(bob)).to_have_count(0)


def test_messages_are_stored_in_the_order_sent_even_when_one_must_wait(new_person, unique):
    room = unique("In order")
    alice = join(new_person(), unique("Alice"), room)
    page = new_person().new_page()
    posts: list[str] = []

    def refuse_the_second_post_once(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(frame) -> None:
            data = json.loads(frame)
            if data["type"] == "message.send":
                posts.append(data["text"])
                if data["text"] == "two" and posts.count("two") == 1:
                    ws.send(
                        error_frame(
                            "rate_limited",
                            "Too many messages.",
                            client_id=data["client_id"],
                            retry_after_ms=300,
                        )
                    )
                    return
            server.send(frame)

        ws.on_message(from_page)
        server.on_message(ws.send)

    page.route_web_socket("**/ws/rooms/**", refuse_the_second_post_once)
    bob = join(page.context, unique("Bob"), room, page=page)
    for text in ("one", "two", "three", "four"):
        composer(bob).fill(text)
        composer(bob).press("Enter")  # typed quickly: they queue in the outbox
    wait_for_texts(alice, ["one", "two", "three", "four"])
    expect(pending(bob)).to_have_count(0)
    assert posts == ["one", "two", "two", "three", "four"], "nothing overtook the refused one"


def test_a_message_typed_in_a_tab_that_is_offline_is_sent_by_another_tab_of_the_room(
    new_person, unique
):
    room = unique("Two tabs")
    alice = join(new_person(), unique("Alice"), room)
    bob_context = new_person()
    offline_tab, link = join_over_flaky_link(bob_context, unique("Bob"), room)
    online_tab = bob_context.new_page()
    online_tab.goto(offline_tab.url)
    expect(online_tab.locator("#composer-text")).to_be_focused()
    send(alice, "hello, both tabs")
    wait_for_texts(offline_tab, ["hello, both tabs"])
    wait_for_texts(online_tab, ["hello, both tabs"])

    go_offline(offline_tab, link)
    composer(offline_tab).fill("typed in the tab with no connection")
    composer(offline_tab).press("Enter")
    # The tabs share the outbox: the one with a connection sends it, once.
    wait_for_texts(alice, ["hello, both tabs", "typed in the tab with no connection"])
    expect(pending(online_tab)).to_have_count(0)
    expect(pending(offline_tab)).to_have_count(0)
    come_back(offline_tab, link, by_itself=True)
    wait_for_texts(offline_tab, ["hello, both tabs", "typed in the tab with no connection"])
    send(alice, "and a marker")
    wait_for_texts(
        online_tab, ["hello, both tabs", "typed in the tab with no connection", "and a marker"]
    )


def test_a_sync_answered_with_an_error_is_asked_again_so_gaps_are_still_filled(new_person, unique):
    room = unique("Sync error")
    alice = join(new_person(), unique("Alice"), room)
    page = new_person().new_page()
    syncs: list[int] = []
    lose_live_messages = False

    def refuse_the_first_sync(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_page(frame) -> None:
            data = json.loads(frame)
            if data["type"] == "sync":
                syncs.append(data["after_seq"])
                if len(syncs) == 2:  # the first sync after a gap: the database is away
                    ws.send(error_frame("unavailable", "ask again shortly", retry_after_ms=100))
                    return
            server.send(frame)

        def from_server(frame) -> None:
            data = json.loads(frame)
            if lose_live_messages and data["type"] == "message.created" and data["seq"] == 2:
                return
            ws.send(frame)

        ws.on_message(from_page)
        server.on_message(from_server)

    page.route_web_socket("**/ws/rooms/**", refuse_the_first_sync)
    bob = join(page.context, unique("Bob"), room, page=page)
    send(alice, "one")
    wait_for_texts(bob, ["one"])
    lose_live_messages = True  # the live event for 2 is lost: 3 reveals the gap
    send(alice, "two")
    send(alice, "three")
    wait_for_texts(bob, ["one", "two", "three"])
    assert syncs == [0, 1, 1], "the refused sync was asked again"


# ---- scrolling -----------------------------------------------------------------------------


def numbered(first: int, last: int, total: int) -> list[str]:
    return [f"Message {n} of {total}" for n in range(first, last + 1)]


def test_scrolling_up_loads_older_messages_and_keeps_the_reader_in_place(
    chat_server: ChatServer, new_person, unique
):
    room = unique("Archive")
    chat_server.seed_room(room, 120, sender=unique("Seeder"))
    page = join(new_person(), unique("Reader"), room)
    wait_for_texts(page, numbered(71, 120, 120))
    expect(page.locator("#room-start")).to_be_hidden()
    assert at_bottom(page)

    def scroll_to_top_and_measure(seq: int) -> float:
        # One script: the measurement is taken before the fetched page can be prepended.
        return page.locator("#scroller").evaluate(
            """(el, seq) => {
                el.scrollTop = 0;
                const text = document.querySelector(`#log .msg[data-seq="${seq}"] .msg__text`);
                return text.getBoundingClientRect().top;
            }""",
            seq,
        )

    before = scroll_to_top_and_measure(71)
    wait_for_texts(page, numbered(21, 120, 120))
    after = page.locator('#log .msg[data-seq="71"] .msg__text').bounding_box()["y"]
    assert abs(after - before) <= 3, f"the message being read moved from {before} to {after}"
    expect(page.locator("#room-start")).to_be_hidden()

    before = scroll_to_top_and_measure(21)
    wait_for_texts(page, numbered(1, 120, 120))
    after = page.locator('#log .msg[data-seq="21"] .msg__text').bounding_box()["y"]
    assert abs(after - before) <= 3, f"the message being read moved from {before} to {after}"
    expect(page.locator("#room-start")).to_be_visible()
    expect(page.locator("#room-start")).to_have_text(f"This is the start of {room}.")
    expect(page.locator("#load-older")).to_be_hidden()
    assert seqs(page) == list(range(1, 121))


def test_a_reader_scrolled_up_stays_put_and_is_offered_the_new_messages(
    chat_server: ChatServer, new_person, unique, screenshots_dir: Path
):
    room = unique("Busy")
    chat_server.seed_room(room, 40, sender=unique("Seeder"))
    alice = join(new_person(), unique("Alice"), room)
    bob = join(new_person(), unique("Bob"), room)
    expect(bob.locator("#log .msg")).to_have_count(40)

    bob.locator("#scroller").evaluate("el => el.scrollTop = 100")
    anchor = bob.locator('#log .msg[data-seq="10"]')
    top_before = anchor.bounding_box()["y"]
    send(alice, "news while you read")
    expect(bob.locator("#log .msg")).to_have_count(41)
    new_messages = bob.locator("#new-messages")
    expect(new_messages).to_be_visible()
    expect(new_messages).to_have_text("1 new message ↓")
    assert scroll_metrics(bob)["top"] == 100
    assert abs(anchor.bounding_box()["y"] - top_before) < 1, "the reader was not moved"
    expect(bob.locator("#log .msg").last).not_to_be_in_viewport()

    send(alice, "and more")
    expect(new_messages).to_have_text("2 new messages ↓")
    bob.screenshot(path=screenshots_dir / "room-new-messages.png")
    new_messages.click()
    expect(new_messages).to_be_hidden()
    expect(bob.locator("#log .msg").last).to_be_in_viewport()
    assert at_bottom(bob)

    # At the bottom, a new message scrolls into view by itself.
    send(alice, "seen at once")
    expect(bob.locator("#log .msg")).to_have_count(43)
    expect(bob.locator("#log .msg").last).to_be_in_viewport()
    assert at_bottom(bob)
    expect(new_messages).to_be_hidden()


# ---- screenshots ---------------------------------------------------------------------------


def test_screenshots_of_the_front_page_a_busy_room_a_phone_and_dark_mode(
    new_person, unique, screenshots_dir: Path
):
    desktop = {"viewport": {"width": 1280, "height": 800}}
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
    room = unique("Weekend trip 🏕️")
    alice_name = unique("Alice")
    alice = join(new_person(**desktop), alice_name, room)
    bob_context = new_person(**phone, device_scale_factor=2)
    bob = join(bob_context, unique("Bob"), room)

    conversation = [
        (alice, "Morning! Are we still on for Saturday?"),
        (alice, "I checked the forecast: sunny ☀️ all weekend"),
        (alice, "Can you bring the tent?"),
        (bob, "Yes! 🎉 I'll bring the tent and the stove."),
        (
            bob,
            "Here's the campsite: https://example.com/campsites/lake-district/"
            "pine-hollow-north-shore-pitch-42?season=summer&nights=2&people=4&dogs=0",
        ),
        (alice, "Packing list:\n- sleeping bags\n- head torches\n- marshmallows 🍫"),
        (bob, "Perfect. Leaving at 8?"),
        (
            alice,
            "8 works. I'll pick you up on the way, then we can stop for coffee at the "
            "bakery near the bridge, the one with the blue awning and the excellent "
            "cinnamon buns, because it's a long drive and nobody wants to start hungry.",
        ),
    ]
    for page, text in conversation:
        send(page, text)
    # As read: the Markdown list shows as a list (its items' text, one per line).
    shown_as = {conversation[5][1]: "Packing list:\nsleeping bags\nhead torches\nmarshmallows 🍫\n"}
    expected = [shown_as.get(text, text) for _, text in conversation]
    wait_for_texts(alice, expected)
    wait_for_texts(bob, expected)
    # Two grouped runs: Alice's first three share one header, Bob's next two another.
    expect(alice.locator("#log .msg:not(.msg--continued)")).to_have_count(5)

    alice.screenshot(path=screenshots_dir / "room-desktop.png")
    bob.screenshot(path=screenshots_dir / "room-phone.png")
    no_sideways_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
    assert bob.evaluate(no_sideways_scroll), "no horizontal scrolling on a phone"
    expect(composer(bob)).to_be_in_viewport()

    dark = join(new_person(**desktop, color_scheme="dark"), unique("Carol"), room)
    send(dark, "Count me in 🙌")
    wait_for_texts(dark, [*expected, "Count me in 🙌"])
    dark.screenshot(path=screenshots_dir / "room-dark.png")

    for other_room in ("Book club 📚", "Release planning", "Lunch ☕"):
        page = join(alice.context, alice_name, unique(other_room))
        send(page, "Anyone around?")
    front = alice.context.new_page()
    front.goto("/")
    expect(front.locator(".rooms__item")).not_to_have_count(0)
    front.screenshot(path=screenshots_dir / "front.png")
    front_phone = bob_context.new_page()
    front_phone.goto("/")
    front_phone.screenshot(path=screenshots_dir / "front-phone.png")
    assert front_phone.evaluate(no_sideways_scroll)

    for name in (
        "front.png",
        "front-phone.png",
        "room-desktop.png",
        "room-phone.png",
        "room-dark.png",
    ):
        assert (screenshots_dir / name).stat().st_size > 10_000
