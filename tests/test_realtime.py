"""The per-process hub: each room's events reach every local socket once, in order, and a
client that stops reading slows nobody else."""

from __future__ import annotations

import asyncio
import json
from unittest import mock

import pytest

from chat import realtime, runtime
from chat.realtime import LocalSocket, step_eagerly
from chat.realtime import hub as room_hub
from chat.realtime.order import RoomOrder


class FakeClient:
    """The server side of one client's connection, as uvicorn's send behaves: it finishes
    at once while the transport is writable, and waits while the client is not reading."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.closed_with: int | None = None
        self.reading = asyncio.Event()
        self.reading.set()

    async def send(self, message: dict) -> None:
        await self.reading.wait()
        if message["type"] == "websocket.send":
            self.texts.append(message["text"])
        else:
            self.closed_with = message["code"]


class GoneClient:
    async def send(self, message: dict) -> None:
        raise OSError("the client has gone")


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def frames(*texts: str) -> list[str]:
    return list(texts)


async def test_a_write_to_a_client_that_keeps_up_goes_out_at_once():
    client = FakeClient()
    socket = LocalSocket(client.send, max_backlog=10)
    socket.write("a")
    socket.write("b")
    assert client.texts == ["a", "b"]  # no task, no waiting


async def test_writes_to_a_client_that_stopped_reading_queue_in_order_and_go_out_when_it_reads():
    client = FakeClient()
    socket = LocalSocket(client.send, max_backlog=10)
    client.reading.clear()
    for text in "abc":
        socket.write(text)
    await settle()
    assert client.texts == []
    client.reading.set()
    await settle()
    socket.write("d")
    await settle()
    assert client.texts == ["a", "b", "c", "d"]


async def test_a_client_that_falls_too_far_behind_is_closed_with_1013_after_what_it_had():
    client = FakeClient()
    socket = LocalSocket(client.send, max_backlog=3)
    client.reading.clear()
    for number in range(10):
        socket.write(str(number))
    assert socket.closed
    client.reading.set()
    await settle()
    assert client.texts == ["0"]  # the frame already in the transport; the rest is dropped
    assert client.closed_with == realtime.CLOSE_TRY_AGAIN
    socket.write("late")
    await settle()
    assert client.texts == ["0"]


async def test_a_write_to_a_client_that_has_gone_is_dropped_quietly():
    socket = LocalSocket(GoneClient().send, max_backlog=3)
    socket.write("a")
    assert socket.closed


@pytest.fixture(params=["in one process", "through the channel layer"])
async def hub(request):
    """Both ways events reach sockets: handed over directly (the in-memory layer reaches
    only this process) and through the layer, as with Redis across processes."""
    runtime.current().hub.local_only = request.param == "in one process"
    return lambda: runtime.current().hub


async def test_the_hub_delivers_each_room_event_to_every_local_socket_in_order(hub):
    clients = [FakeClient() for _ in range(3)]
    sockets = [LocalSocket(c.send, max_backlog=100) for c in clients]
    elsewhere = FakeClient()
    for socket in sockets:
        await hub().join(1, socket)
    await hub().join(2, LocalSocket(elsewhere.send, max_backlog=100))

    hub().publish(1, 1, frames("m1", "m2"))
    hub().publish(1, 3, frames("m3"))
    await settle()

    assert all(client.texts == ["m1", "m2", "m3"] for client in clients)
    assert elsewhere.texts == []


async def test_one_client_that_stops_reading_does_not_hold_up_the_others(hub):
    slow, fast = FakeClient(), FakeClient()
    await hub().join(1, LocalSocket(slow.send, max_backlog=5))
    await hub().join(1, LocalSocket(fast.send, max_backlog=5))
    slow.reading.clear()

    for number in range(50):
        hub().publish(1, number + 1, [f"m{number}"])
        await settle()

    assert fast.texts == [f"m{number}" for number in range(50)]
    slow.reading.set()
    await settle()
    assert slow.closed_with == realtime.CLOSE_TRY_AGAIN
    assert slow.texts == ["m0"]


async def test_a_socket_that_leaves_while_a_broadcast_is_in_flight_stops_receiving(hub):
    staying, leaving, trigger = FakeClient(), FakeClient(), FakeClient()
    leaving_socket = LocalSocket(leaving.send, max_backlog=5)

    async def disconnect_the_other_on_first_frame(message):
        if not trigger.texts:
            leaving_socket.abandon()  # its client disconnects mid-broadcast
            hub().leave(1, leaving_socket)
        await FakeClient.send(trigger, message)

    await hub().join(1, LocalSocket(staying.send, max_backlog=5))
    await hub().join(1, leaving_socket)
    await hub().join(1, LocalSocket(disconnect_the_other_on_first_frame, max_backlog=5))
    hub().publish(1, 1, ["m1", "m2"])
    hub().publish(1, 3, ["m3"])
    await settle()

    assert staying.texts == trigger.texts == ["m1", "m2", "m3"]
    assert leaving.texts in ([], ["m1"])  # whatever it had before it left, nothing after


async def test_a_gone_client_does_not_stop_delivery_to_the_rest(hub):
    alive = FakeClient()
    await hub().join(1, LocalSocket(GoneClient().send, max_backlog=5))
    await hub().join(1, LocalSocket(alive.send, max_backlog=5))
    hub().publish(1, 1, ["m1"])
    hub().publish(1, 2, ["m2"])
    await settle()
    assert alive.texts == ["m1", "m2"]


async def test_the_last_socket_leaving_ends_the_room_subscription(hub):
    socket = LocalSocket(FakeClient().send, max_backlog=5)
    await hub().join(7, socket)
    assert 7 in hub().rooms
    hub().leave(7, socket)
    await settle()
    assert 7 not in hub().rooms
    assert "room.7" not in hub().layer.groups  # no subscription left behind either way


async def test_events_that_arrive_crossed_reach_sockets_in_sequence_order_once(hub):
    client = FakeClient()
    await hub().join(1, LocalSocket(client.send, max_backlog=100))
    hub().publish(1, 1, ["m1"])
    hub().publish(1, 4, ["m4", "m5"])  # another worker's commit overtook 2 and 3
    hub().publish(1, 2, ["m2", "m3"])
    hub().publish(1, 3, ["m3", "m4"])  # seen already: nothing is handed out twice
    hub().publish(1, 6, ["m6"])
    await settle()
    assert client.texts == ["m1", "m2", "m3", "m4", "m5", "m6"]


async def test_a_repeated_announcement_fills_a_gap_and_is_dropped_where_nothing_is_missing(hub):
    client = FakeClient()
    await hub().join(1, LocalSocket(client.send, max_backlog=100))
    hub().publish(1, 2, ["m2"], repeat=True)  # nothing known yet: not a starting point
    hub().publish(1, 1, ["m1"])
    hub().publish(1, 1, ["m1"], repeat=True)  # delivered already
    hub().publish(1, 2, ["m2"], repeat=True)  # its first announcement was never made
    hub().publish(1, 3, ["m3"])
    await settle()
    assert client.texts == ["m1", "m2", "m3"]


async def test_a_short_repeat_does_not_displace_a_longer_chunk_waiting_for_a_gap(hub):
    client = FakeClient()
    await hub().join(1, LocalSocket(client.send, max_backlog=100))
    hub().publish(1, 1, ["m1"])
    hub().publish(1, 3, ["m3", "m4", "m5"])  # waits for 2
    hub().publish(1, 3, ["m3"], repeat=True)
    hub().publish(1, 2, ["m2"])
    await settle()
    assert client.texts == ["m1", "m2", "m3", "m4", "m5"]


@pytest.mark.django_db(transaction=True)
async def test_a_number_that_never_arrives_is_read_from_the_database(
    hub, room_factory, user_factory
):
    from channels.db import database_sync_to_async

    from chat import services

    room = await database_sync_to_async(room_factory)()
    author = await database_sync_to_async(user_factory)("Ana")
    client = FakeClient()
    await hub().join(room.pk, LocalSocket(client.send, max_backlog=100))
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=author, texts=["one", "two", "three", "four", "five"]
    )
    hub().publish(room.pk, 1, ["m1"])
    hub().publish(room.pk, 3, ["m3"])  # the events for 2 and 4 were lost on the way
    hub().publish(room.pk, 5, ["m5"])
    await asyncio.sleep(2 * room_hub.GAP_WAIT_SECONDS + 1)

    from_database = [json.loads(text)["message"]["text"] for text in client.texts[1::2]]
    assert client.texts[0::2] == ["m1", "m3", "m5"]
    assert from_database == ["two", "four"]


@pytest.mark.django_db(transaction=True)
async def test_a_missing_edit_or_reaction_is_read_from_the_log_like_a_message(
    hub, room_factory, user_factory
):
    from channels.db import database_sync_to_async

    from chat import services

    room = await database_sync_to_async(room_factory)()
    ana = await database_sync_to_async(user_factory)("Ana")
    client = FakeClient()
    await hub().join(room.pk, LocalSocket(client.send, max_backlog=100))
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=ana, texts=["one"]
    )
    with mock.patch("chat.realtime.announce"):  # their announcements are lost
        await database_sync_to_async(services.message_edit)(
            room_id=room.pk, editor=ana, message_seq=1, text="uno"
        )
        await database_sync_to_async(services.reaction_add)(
            room_id=room.pk, person=ana, message_seq=1, emoji="🎉"
        )
    hub().publish(room.pk, 1, ["m1"])
    hub().publish(room.pk, 4, ["m4"])  # the edit (2) and the reaction (3) were lost
    await asyncio.sleep(2 * room_hub.GAP_WAIT_SECONDS + 1)

    filled = [json.loads(text) for text in client.texts[1:3]]
    assert [(frame["type"], frame["seq"]) for frame in filled] == [
        ("message.edited", 2),
        ("reaction.changed", 3),
    ]
    assert client.texts[0] == "m1" and client.texts[3] == "m4"


async def test_a_gap_too_long_to_fill_is_left_to_the_clients_and_delivery_moves_on(hub):
    client = FakeClient()
    await hub().join(1, LocalSocket(client.send, max_backlog=100))
    hub().publish(1, 1, ["m1"])
    hub().publish(1, 2 + room_hub.GAP_FILL_MAX + 1, ["much later"])  # e.g. after an import
    await asyncio.sleep(room_hub.GAP_WAIT_SECONDS + 0.2)
    assert client.texts == ["m1", "much later"]


@pytest.mark.django_db(transaction=True)
async def test_a_gap_revealed_by_this_processs_own_commit_is_read_from_the_database(
    room_factory, user_factory
):
    """The commit announces from the database thread; the gap it reveals is filled on the
    event loop all the same (the announcement must not carry that thread's context)."""
    from asgiref.sync import SyncToAsync
    from channels.db import database_sync_to_async

    from chat import services

    def hub():
        return runtime.current().hub

    hub().local_only = False  # as with Redis: other processes write to the room too
    publish = hub().publish
    marks_seen_by_publish = []

    def recording_publish(*args):
        marks_seen_by_publish.append(SyncToAsync.deadlock_context.get(False))
        publish(*args)

    hub().publish = recording_publish

    room = await database_sync_to_async(room_factory)()
    author = await database_sync_to_async(user_factory)("Ana")
    client = FakeClient()
    await hub().join(room.pk, LocalSocket(client.send, max_backlog=100))
    # Another process's message, whose event never came: an import announces nothing.
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=author, texts=["theirs"]
    )
    await database_sync_to_async(services.message_post)(
        room_id=room.pk, sender=author, text="mine", client_id="c1"
    )
    await asyncio.sleep(2 * room_hub.GAP_WAIT_SECONDS + 1)

    assert [json.loads(text)["message"]["text"] for text in client.texts] == ["theirs", "mine"]
    assert marks_seen_by_publish == [False]  # the database thread's context stayed there


# The hand-stepped send, and the pure reorder buffer.


async def as_a_task(make) -> list:
    """What a coroutine does (its steps and its result or error) when run as a task."""
    steps: list = []
    try:
        steps.append(("result", await asyncio.ensure_future(make(steps))))
    except Exception as error:
        steps.append(("raised", type(error).__name__))
    return steps


async def stepped_eagerly(make) -> list:
    steps: list = []
    try:
        rest = step_eagerly(make(steps))
        if rest is not None:
            steps.append("waited")
            await rest
        steps.append(("result", None))
    except Exception as error:
        steps.append(("raised", type(error).__name__))
    return [step for step in steps if step != "waited"]


async def finishes_at_once(steps):
    steps.append("ran")


async def waits_for_a_future(steps):
    future = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, future.set_result, None)
    steps.append("before")
    await future
    steps.append("after")


async def yields_bare(steps):
    steps.append("before")
    await asyncio.sleep(0)
    steps.append("after")


async def raises_after_waiting(steps):
    await asyncio.sleep(0.01)
    raise ConnectionResetError


async def raises_at_once(steps):
    raise ConnectionResetError


@pytest.mark.parametrize(
    "make",
    [finishes_at_once, waits_for_a_future, yields_bare, raises_after_waiting, raises_at_once],
)
async def test_a_send_stepped_by_hand_behaves_as_a_task_would(make):
    assert await stepped_eagerly(make) == await as_a_task(make)


async def test_a_send_that_never_waits_is_done_in_its_first_step():
    assert step_eagerly(finishes_at_once([])) is None


def test_the_reorder_buffer_hands_out_each_number_once_in_order():
    order = RoomOrder(last_seq=0)
    assert order.offer(1, ["a"]) == ["a"]
    assert order.offer(3, ["c", "d"]) == []  # waits for 2
    assert order.offer(2, ["b", "c"]) == ["b", "c", "d"]  # c once
    assert order.offer(1, ["a", "b"]) == []  # seen
    assert order.next_seq == 5 and order.ahead == {}


def test_the_reorder_buffer_never_starts_from_a_repeat_and_keeps_the_longer_chunk():
    order = RoomOrder()
    assert order.offer(4, ["d"], repeat=True) == []
    assert order.offer(2, ["b"]) == ["b"]
    order.offer(4, ["d", "e"])
    order.offer(4, ["d"], repeat=True)
    assert order.ahead == {4: ["d", "e"]}
    assert order.skip_gap() == ["d", "e"]  # 3 never came: move on
    assert order.next_seq == 6
