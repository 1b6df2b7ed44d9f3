"""Edits, deletions, reactions, typing and who is here cross between two real workers over
PostgreSQL and Redis; a worker killed with SIGKILL drops its people from who is here."""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from tests.live_server import start_server
from tests.scaleout.test_two_workers import open_socket, people_in_a_new_room, send_frame

pytestmark = pytest.mark.scaleout


async def next_frame(socket, wanted, timeout: float = 10) -> dict:
    """The next frame of type `wanted` (a type name, or a test of the frame)."""
    matches = wanted if callable(wanted) else lambda frame: frame["type"] == wanted

    async def read() -> dict:
        while True:
            frame = json.loads(await socket.recv())
            if matches(frame):
                return frame

    return await asyncio.wait_for(read(), timeout)


def present(count: int):
    return lambda frame: frame["type"] == "presence" and len(frame["people"]) == count


async def test_edits_deletions_and_reactions_cross_between_workers_in_order(deployment):
    room_id, (ana, bo) = await people_in_a_new_room(deployment, 2)
    first, second = deployment.workers
    ana_socket = await open_socket(first, ana, room_id)
    bo_socket = await open_socket(second, bo, room_id)
    await ana_socket.send(send_frame("meet at 5", client_id="m1"))
    await next_frame(ana_socket, "ack")
    await ana_socket.send(
        json.dumps({"type": "message.edit", "client_id": "e1", "message_seq": 1, "text": "at 6"})
    )
    await next_frame(ana_socket, "ack")
    await bo_socket.send(
        json.dumps({"type": "reaction.add", "client_id": "r1", "message_seq": 1, "emoji": "👍"})
    )
    await next_frame(ana_socket, "reaction.changed")  # from the other worker
    await ana_socket.send(
        json.dumps({"type": "message.delete", "client_id": "d1", "message_seq": 1})
    )

    seen: list[dict] = []
    while len(seen) < 4:
        seen.append(await next_frame(bo_socket, lambda frame: "seq" in frame))
    assert [(f["seq"], f["type"]) for f in seen] == [
        (1, "message.created"),
        (2, "message.edited"),
        (3, "reaction.changed"),
        (4, "message.deleted"),
    ]
    assert seen[1]["message"]["text"] == "at 6"
    assert seen[3]["message"]["deleted"] is True
    await ana_socket.close()
    await bo_socket.close()


async def test_typing_and_who_is_here_cross_between_workers(deployment):
    room_id, (ana, bo) = await people_in_a_new_room(deployment, 2)
    first, second = deployment.workers
    ana_socket = await open_socket(first, ana, room_id)
    await next_frame(ana_socket, present(1))
    bo_socket = await open_socket(second, bo, room_id)
    await next_frame(ana_socket, present(2))  # Bo, on the other worker
    await next_frame(bo_socket, present(2))
    bo_again = await open_socket(first, bo, room_id)  # a second tab, on Ana's worker
    await next_frame(bo_again, present(2))  # Bo counts once

    await bo_socket.send(json.dumps({"type": "typing"}))
    typing = await next_frame(ana_socket, lambda f: f["type"] == "typing" and f["people"])
    assert len(typing["people"]) == 1
    await bo_socket.send(json.dumps({"type": "typing", "active": False}))
    await next_frame(ana_socket, lambda f: f["type"] == "typing" and not f["people"])

    await bo_socket.close()
    await bo_again.close()
    await next_frame(ana_socket, present(1))
    await ana_socket.close()


async def test_the_people_of_a_killed_worker_leave_who_is_here_within_30_seconds(
    deployment, tmp_path
):
    room_id, (ana, bo) = await people_in_a_new_room(deployment, 2)
    doomed = start_server(deployment.env, tmp_path / "doomed.log")
    try:
        ana_socket = await open_socket(deployment.workers[0], ana, room_id)
        bo_socket = await open_socket(doomed, bo, room_id)
        await next_frame(ana_socket, present(2))
        doomed.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        await next_frame(ana_socket, present(1), timeout=35)
        assert time.monotonic() - killed_at < 30
        await ana_socket.close()
        del bo_socket
    finally:
        doomed.stop()
