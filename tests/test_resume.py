"""Resuming, for every kind of event: `sync` replays the room log after a number, in order,
then says how far it caught up; a number that cannot be trusted gets a reset; the
keep-alive says the room's last number."""

from __future__ import annotations

import json

import msgspec
import pytest
from channels.db import database_sync_to_async

from chat import protocol, selectors, services
from chat.models import Room
from tests.conftest import new_client_id
from tests.helpers import apply_events, room_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


def catch_up(room, after_seq, epoch=None, page_max=500, resync_max=1000):
    return selectors.catch_up(
        room_id=room.pk, after_seq=after_seq, epoch=epoch, page_max=page_max, resync_max=resync_max
    )


def decoded(result: protocol.SyncResult) -> list[protocol.RoomEventFrame]:
    return [protocol.decode_room_event(bytes(raw)) for raw in result.events]


def test_a_client_offline_across_a_messages_whole_life_resumes_to_its_tombstone(room, user_factory):
    ana, bo = user_factory("Ana"), user_factory("Bo")
    services.message_post(room_id=room.pk, sender=ana, text="hi", client_id=new_client_id())
    seen = room_state(room.pk)  # the client was here, then went offline
    services.message_post(room_id=room.pk, sender=ana, text="draft", client_id=new_client_id())
    services.message_edit(room_id=room.pk, editor=ana, message_seq=2, text="final")
    services.reaction_add(room_id=room.pk, person=bo, message_seq=2, emoji="👍")
    services.reaction_remove(room_id=room.pk, person=bo, message_seq=2, emoji="👍")
    services.message_delete(room_id=room.pk, deleter=ana, message_seq=2)

    result = catch_up(room, after_seq=1)
    events = decoded(result)
    assert [(event.seq, type(event).__name__) for event in events] == [
        (2, "MessageCreated"),
        (3, "MessageEdited"),
        (4, "ReactionChanged"),
        (5, "ReactionChanged"),
        (6, "MessageDeleted"),
    ]
    resumed = apply_events(seen, events)
    assert resumed[2].deleted and resumed[2].reactions == [] and resumed[2].text == ""
    assert resumed == room_state(room.pk)
    assert (result.has_more, result.last_seq) == (False, Room.objects.get(pk=room.pk).last_seq)


def test_replayed_reactions_of_a_deleted_message_name_nobody(room, user_factory):
    ana, bo = user_factory("Ana"), user_factory("Bo")
    services.message_post(room_id=room.pk, sender=ana, text="hm", client_id=new_client_id())
    services.reaction_add(room_id=room.pk, person=bo, message_seq=1, emoji="👍")
    services.message_delete(room_id=room.pk, deleter=ana, message_seq=1)
    reaction = decoded(catch_up(room, after_seq=1))[0]
    assert (reaction.seq, reaction.people) == (2, [])


def test_events_about_a_message_carry_its_state_as_it_is_now(room, user_factory):
    ana = user_factory("Ana")
    services.message_post(room_id=room.pk, sender=ana, text="v1", client_id=new_client_id())
    services.message_edit(room_id=room.pk, editor=ana, message_seq=1, text="v2")
    services.message_edit(room_id=room.pk, editor=ana, message_seq=1, text="v3")
    events = decoded(catch_up(room, after_seq=0))
    # Replaying the first edit shows the latest text: applying it late can never go back.
    assert [(e.seq, e.message.text, e.message.version) for e in events] == [
        (1, "v3", 3),
        (2, "v3", 3),
        (3, "v3", 3),
    ]


def test_a_number_ahead_of_the_room_is_a_reset(room):
    reset = catch_up(room, after_seq=5)
    assert reset == protocol.Reset(last_seq=0, epoch=room.epoch, reason="ahead")


def test_a_number_from_another_epoch_is_a_reset(room):
    reset = catch_up(room, after_seq=0, epoch="restored-backup")
    assert (type(reset), reset.reason, reset.epoch) == (protocol.Reset, "epoch", room.epoch)
    assert isinstance(catch_up(room, after_seq=0, epoch=room.epoch), protocol.SyncResult)


def test_more_than_the_bound_behind_is_a_reset_and_up_to_it_is_replayed(room, user_factory):
    services.messages_import(room_id=room.pk, sender=user_factory(), texts=["x"] * 30)
    assert catch_up(room, after_seq=9, resync_max=20).reason == "too_far_behind"
    exactly = catch_up(room, after_seq=10, resync_max=20)
    assert len(exactly.events) == 20


def test_a_new_epoch_makes_every_client_reset(room):
    from django.core.management import call_command

    old = room.epoch
    call_command("rooms_new_epoch")
    room.refresh_from_db()
    assert room.epoch != old
    assert catch_up(room, after_seq=0, epoch=old).reason == "epoch"


# Over the socket.


async def joined(socket_for, room, user):
    socket = await socket_for(room, user)
    assert (await socket.connect())[0]
    return socket


async def answer(socket, frame: dict, wanted: str, passed_by: list | None = None) -> dict:
    """Send `frame`; return the first frame of type `wanted`, keeping the others it passed."""
    await socket.send_json_to(frame)
    while True:
        received = await socket.receive_json_from(timeout=3)
        if received["type"] == wanted:
            return received
        if passed_by is not None:
            passed_by.append(received)


@pytest.mark.django_db(transaction=True)
async def test_edits_deletions_and_reactions_reach_everyone_live_in_order(
    socket_for, room, user_factory
):
    ana, bo = await database_sync_to_async(user_factory)("Ana"), None
    bo = await database_sync_to_async(user_factory)("Bo")
    ana_socket, bo_socket = await joined(socket_for, room, ana), await joined(socket_for, room, bo)
    send = {"type": "message.send", "client_id": "m1", "text": "hi all"}
    await answer(ana_socket, send, "ack")
    ack = await answer(
        ana_socket,
        {"type": "message.edit", "client_id": "e1", "message_seq": 1, "text": "hi everyone"},
        "ack",
    )
    assert (ack["client_id"], ack["message"]["text"], ack["message"]["version"]) == (
        "e1",
        "hi everyone",
        2,
    )
    bo_frames: list[dict] = []
    await answer(
        bo_socket,
        {"type": "reaction.add", "client_id": "r1", "message_seq": 1, "emoji": "👋"},
        "ack",
        bo_frames,
    )
    await answer(ana_socket, {"type": "message.delete", "client_id": "d1", "message_seq": 1}, "ack")

    while len([f for f in bo_frames if "seq" in f]) < 4:
        bo_frames.append(await bo_socket.receive_json_from(timeout=3))
    seen = [(frame["seq"], frame["type"]) for frame in bo_frames if "seq" in frame]
    assert seen == [
        (1, "message.created"),
        (2, "message.edited"),
        (3, "reaction.changed"),
        (4, "message.deleted"),
    ]
    pong = await answer(bo_socket, {"type": "ping"}, "pong")
    assert pong == {"type": "pong", "last_seq": 4}
    await ana_socket.disconnect()
    await bo_socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"type": "message.edit", "message_seq": 1, "text": "mine now"}, "forbidden"),
        ({"type": "message.delete", "message_seq": 1}, "forbidden"),
        ({"type": "message.edit", "message_seq": 9, "text": "x"}, "not_found"),
        ({"type": "reaction.add", "message_seq": 9, "emoji": "👍"}, "not_found"),
        ({"type": "reaction.add", "message_seq": 1, "emoji": "nope"}, "invalid_reaction"),
        ({"type": "message.edit", "message_seq": 1, "text": "  "}, "blank_message"),
        ({"type": "message.edit", "message_seq": 1, "text": "x" * 4001}, "message_too_long"),
        ({"type": "message.send", "text": "re", "reply_to": 9}, "not_found"),
        ({"type": "message.edit", "message_seq": 1}, "invalid_field"),
    ],
)
async def test_a_change_that_is_not_allowed_gets_its_code_stores_nothing_and_all_carry_on(
    socket_for, room, user_factory, frame, code
):
    ana = await database_sync_to_async(user_factory)("Ana")
    mallory = await database_sync_to_async(user_factory)("Mallory")
    ana_socket = await joined(socket_for, room, ana)
    await answer(ana_socket, {"type": "message.send", "client_id": "m1", "text": "hi"}, "ack")
    socket = await joined(socket_for, room, mallory)

    error = await answer(socket, {**frame, "client_id": "x1"}, "error")

    assert (error["code"], error["client_id"]) == (code, "x1")
    assert await database_sync_to_async(lambda: Room.objects.get(pk=room.pk).last_seq)() == 1
    # Both connections carry on.
    await answer(socket, {"type": "message.send", "client_id": "m2", "text": "ok"}, "ack")
    assert (await answer(ana_socket, {"type": "ping"}, "pong"))["last_seq"] == 2
    await ana_socket.disconnect()
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_sync_replays_changes_and_says_how_far_it_caught_up(socket_for, room, user_factory):
    ana = await database_sync_to_async(user_factory)("Ana")
    socket = await joined(socket_for, room, ana)
    await answer(socket, {"type": "message.send", "client_id": "m1", "text": "a"}, "ack")
    await answer(
        socket, {"type": "reaction.add", "client_id": "r1", "message_seq": 1, "emoji": "🎉"}, "ack"
    )
    result = await answer(
        socket, {"type": "sync", "after_seq": 1, "epoch": room.epoch}, "sync.result"
    )
    assert [(e["seq"], e["type"]) for e in result["events"]] == [(2, "reaction.changed")]
    assert (result["has_more"], result["last_seq"]) == (False, 2)
    reset = await answer(socket, {"type": "sync", "after_seq": 1, "epoch": "old"}, "reset")
    assert (reset["reason"], reset["last_seq"], reset["epoch"]) == ("epoch", 2, room.epoch)
    await socket.disconnect()


def test_the_sync_result_holds_each_event_exactly_as_it_was_sent_live():
    event = protocol.encode(protocol.ReactionChanged(seq=7, message_seq=3, emoji="👍", people=[]))
    result = protocol.SyncResult(events=[msgspec.Raw(event)], has_more=False, last_seq=7)
    assert json.loads(protocol.encode(result))["events"] == [json.loads(event)]
