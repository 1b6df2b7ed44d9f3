"""The person's stream over two real workers: a read in a tab on one worker clears the
count in a tab on the other, and a room's activity reaches a tab of a member that is in
another room on the other worker."""

from __future__ import annotations

import json
import secrets

import pytest

from bench.httpclient import join
from tests.scaleout.test_room_log_and_ephemera import next_frame
from tests.scaleout.test_two_workers import open_socket, send_frame

pytestmark = pytest.mark.scaleout


async def test_a_read_in_one_tab_clears_the_count_in_a_tab_on_the_other_worker(deployment):
    first, second = deployment.workers
    room, elsewhere = f"talk {secrets.token_hex(3)}", f"elsewhere {secrets.token_hex(3)}"
    ana, room_id = await join(first.host, first.port, name=f"ana-{secrets.token_hex(3)}", room=room)
    bo_name = f"bo-{secrets.token_hex(3)}"
    bo, _ = await join(first.host, first.port, name=bo_name, room=room)
    bo, elsewhere_id = await join(first.host, first.port, name=bo_name, room=elsewhere, session=bo)

    ana_tab = await open_socket(first, ana, room_id)
    bo_reading = await open_socket(first, bo, room_id)
    bo_elsewhere = await open_socket(second, bo, elsewhere_id)  # the other worker

    await ana_tab.send(send_frame("are you there?"))
    created = await next_frame(bo_reading, "message.created")
    activity = await next_frame(bo_elsewhere, "room.activity")
    assert activity["room_id"] == room_id
    assert activity["event"]["seq"] == created["seq"]

    await bo_reading.send(json.dumps({"type": "read", "seq": created["seq"]}))
    read_now = await next_frame(bo_elsewhere, "read.now")
    assert read_now == {
        "type": "read.now",
        "room_id": room_id,
        "last_read_seq": created["seq"],
        "unread": 0,
        "last_seq": created["seq"],
    }
    for socket in (ana_tab, bo_reading, bo_elsewhere):
        await socket.close()
