"""A page whose position the server cannot trust (a database restored from a backup)
resets: it reloads the room's latest messages and carries on, nothing shown twice."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import WebSocketRoute, expect

from tests.e2e.conftest import join
from tests.e2e.test_chat_in_browser import send, wait_for_texts

pytestmark = pytest.mark.e2e


def test_a_page_told_to_reset_reloads_the_latest_messages_and_carries_on(
    new_person, unique, chat_server
):
    room = unique("Restored")
    ana = join(new_person(), unique("Ana"), room)
    routes: list[WebSocketRoute] = []
    answers: list[str] = []

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        routes.append(ws)

        def from_server(frame) -> None:
            answers.append(json.loads(frame)["type"])
            ws.send(frame)

        server.on_message(from_server)

    page = new_person().new_page()
    page.route_web_socket("**/ws/rooms/**", relay)
    bo = join(page.context, unique("Bo"), room, page=page)
    send(ana, "before the restore")
    wait_for_texts(bo, ["before the restore"])

    chat_server.manage("rooms_new_epoch")  # as an operator does after restoring a backup
    routes[-1].close()  # the connection drops; the page reconnects with its old epoch
    page.wait_for_function("() => true")
    expect(page.locator("#log .msg")).to_have_count(1)
    while "reset" not in answers:
        bo.wait_for_timeout(50)
    send(ana, "after the restore")
    wait_for_texts(bo, ["before the restore", "after the restore"])
    send(bo, "and Bo carries on")
    wait_for_texts(ana, ["before the restore", "after the restore", "and Bo carries on"])


def test_a_number_the_server_has_no_event_for_does_not_stall_the_page(new_person, unique):
    """A hole in a room's numbers (rows removed from the database by hand, say): the
    server's sync says how far it caught up, and the page goes on from there."""
    room = unique("Hole")
    ana = join(new_person(), unique("Ana"), room)
    make_a_hole = False

    def relay(ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()

        def from_server(frame) -> None:
            data = json.loads(frame)
            if make_a_hole and data.get("seq") == 2:
                return  # event 2 never arrives live...
            if make_a_hole and data["type"] == "sync.result":
                data["events"] = [e for e in data["events"] if e["seq"] != 2]  # ...nor by sync
                frame = json.dumps(data)
            ws.send(frame)

        server.on_message(from_server)

    page = new_person().new_page()
    page.route_web_socket("**/ws/rooms/**", relay)
    bo = join(page.context, unique("Bo"), room, page=page)
    send(ana, "one")
    wait_for_texts(bo, ["one"])
    make_a_hole = True
    send(ana, "two")
    send(ana, "three")
    wait_for_texts(bo, ["one", "three"])
    send(ana, "four")
    wait_for_texts(bo, ["one", "three", "four"])
