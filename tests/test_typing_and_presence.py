"""Room ephemera over the socket: who is typing and who is here, each update the whole
state, nothing stored, nothing numbered."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from chat.consumers import TYPING_BURST
from chat.models import Room
from chat.realtime import hub as room_hub

pytestmark = pytest.mark.django_db(transaction=True)


async def joined(socket_for, room, user):
    socket = await socket_for(room, user, ephemera=True)
    assert (await socket.connect())[0]
    return socket


async def next_of(socket, kind: str, test=lambda frame: True) -> dict:
    while True:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == kind and test(frame):
            return frame


def names(frame) -> list[str]:
    return [person["name"] for person in frame["people"]]


@pytest.fixture
async def people(room_factory, user_factory):
    room = await database_sync_to_async(room_factory)("General")
    ana = await database_sync_to_async(user_factory)("Ana")
    bo = await database_sync_to_async(user_factory)("Bo")
    return room, ana, bo


async def test_who_is_here_counts_each_person_once_and_follows_them_out(socket_for, people):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    assert names(await next_of(ana_socket, "presence")) == ["Ana"]
    bo_tabs = [await joined(socket_for, room, bo) for _ in range(2)]
    assert names(await next_of(ana_socket, "presence")) == ["Ana", "Bo"]
    assert names(await next_of(bo_tabs[1], "presence")) == ["Ana", "Bo"]  # a newcomer is told
    await bo_tabs[0].disconnect()
    assert await ana_socket.receive_nothing(timeout=0.3)  # Bo is still here, in his other tab
    await bo_tabs[1].disconnect()
    assert names(await next_of(ana_socket, "presence")) == ["Ana"]
    await ana_socket.disconnect()


async def test_typing_reaches_the_room_as_the_whole_list_and_stopping_clears_it(socket_for, people):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await bo_socket.send_json_to({"type": "typing"})
    assert names(await next_of(ana_socket, "typing")) == ["Bo"]
    await ana_socket.send_json_to({"type": "typing", "active": True})
    assert names(await next_of(bo_socket, "typing", lambda f: len(f["people"]) == 2)) == [
        "Bo",
        "Ana",
    ]
    await bo_socket.send_json_to({"type": "typing", "active": False})
    assert names(await next_of(ana_socket, "typing", lambda f: len(f["people"]) == 1)) == ["Ana"]
    # Nothing of it was stored or numbered.
    assert await database_sync_to_async(lambda: Room.objects.get(pk=room.pk).last_seq)() == 0
    await ana_socket.disconnect()
    await bo_socket.disconnect()


async def test_typing_beyond_one_update_per_three_seconds_is_dropped_silently(socket_for, people):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await next_of(ana_socket, "presence", lambda f: len(f["people"]) == 2)
    for _ in range(20):
        await bo_socket.send_json_to({"type": "typing"})
    await next_of(ana_socket, "typing")
    assert await ana_socket.receive_nothing(timeout=0.5)  # the other 19 went nowhere
    frames = []
    while not await bo_socket.receive_nothing(timeout=0.2):
        frames.append(await bo_socket.receive_json_from())
    assert not [f for f in frames if f["type"] == "error"]  # and were not answered
    await ana_socket.disconnect()
    await bo_socket.disconnect()


async def test_starting_and_stopping_over_and_over_is_throttled_too(socket_for, people):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await next_of(ana_socket, "presence", lambda f: len(f["people"]) == 2)
    for _ in range(50):
        await bo_socket.send_json_to({"type": "typing", "active": True})
        await bo_socket.send_json_to({"type": "typing", "active": False})
    # The first few starts and their stops go through; the flood after them does not.
    updates = []
    while not await ana_socket.receive_nothing(timeout=0.5):
        frame = await ana_socket.receive_json_from()
        if frame["type"] == "typing":
            updates.append(names(frame))
    starts = TYPING_BURST + 1  # one more may be earned while the flood is sent
    assert 2 * TYPING_BURST <= len(updates) <= 2 * starts
    assert updates == [["Bo"], []] * (len(updates) // 2)
    await ana_socket.disconnect()
    await bo_socket.disconnect()


async def test_someone_sending_short_messages_in_a_quick_row_shows_typing_before_each(
    socket_for, people
):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await next_of(ana_socket, "presence", lambda f: len(f["people"]) == 2)
    for n in range(4):
        await bo_socket.send_json_to({"type": "typing", "active": True})
        assert names(await next_of(ana_socket, "typing")) == ["Bo"]
        await bo_socket.send_json_to({"type": "message", "client_id": f"quick-{n}", "text": "ok"})
        await bo_socket.send_json_to({"type": "typing", "active": False})
        assert names(await next_of(ana_socket, "typing")) == []
    await ana_socket.disconnect()
    await bo_socket.disconnect()


async def test_a_typist_who_leaves_stops_typing_at_once(socket_for, people):
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await bo_socket.send_json_to({"type": "typing"})
    assert names(await next_of(ana_socket, "typing")) == ["Bo"]
    await bo_socket.disconnect()
    assert names(await next_of(ana_socket, "typing")) == []
    await ana_socket.disconnect()


async def test_a_typist_who_goes_quiet_fades_after_six_seconds(socket_for, people, monkeypatch):
    monkeypatch.setattr(room_hub, "TYPING_SECONDS", 0.3)
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await bo_socket.send_json_to({"type": "typing"})
    assert names(await next_of(ana_socket, "typing")) == ["Bo"]
    assert names(await next_of(ana_socket, "typing")) == []  # nobody said stop: it expired
    await ana_socket.disconnect()
    await bo_socket.disconnect()


async def test_typing_is_off_in_a_crowded_room(socket_for, people, settings):
    settings.CHAT_TYPING_MAX_PEOPLE = 1
    room, ana, bo = people
    ana_socket = await joined(socket_for, room, ana)
    bo_socket = await joined(socket_for, room, bo)
    await next_of(ana_socket, "presence", lambda f: len(f["people"]) == 2)
    await bo_socket.send_json_to({"type": "typing"})
    await ana_socket.send_json_to({"type": "ping"})
    pong = await ana_socket.receive_json_from(timeout=3)
    assert pong["type"] == "pong"  # no typing came before it
    await ana_socket.disconnect()
    await bo_socket.disconnect()


def test_ephemera_frames_are_small_and_whole():
    from chat import protocol

    frame = json.loads(
        protocol.encode(protocol.TypingNow(people=[protocol.Sender(id=1, name="Ana")]))
    )
    assert frame == {"type": "typing", "people": [{"id": 1, "name": "Ana"}]}
