"""The only package that touches the channel layer: how room events and ephemera reach
sockets.

Per process, a hub keeps the sockets of each room and writes every event of that room,
encoded once by whoever announced it, straight to them. The hub knows an event only by
its room and number: it orders numbered frames and fills gaps from the room log, blind to
what kind of change each one is. A delivery is a plain write: no database query, no thread
hop, no JSON encoding, no per-socket channel and no per-event consumer dispatch (see
DESIGN.md, "The hot path").

    services (commit) -> announce -> hub.publish -> this process's sockets
                                                 -> channel layer group (Redis)
        -> other processes' room subscriptions -> LocalSocket.write for each socket

The in-memory layer reaches only this process, so there the layer is not used at all.
Over Redis the layer carries each event to the other processes, and it only carries
hints: a process fills gaps from the database by sequence number, and so do clients.
A subscription lost with Redis is retried, and the room's events stored meanwhile are
read from the database when it is back; this process's own sockets never stop.

Modules: `sockets` (a client's outgoing side), `order` (a room's pure reorder buffer),
`hub` (rooms, subscriptions, gap filling, typing and who is here, the activity of a
person's other rooms), `presence` (who is here, shared through Redis), `people` (the
per-person stream of hints), `envelope` (what travels through the layer), `context`.
"""

from __future__ import annotations

import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

from chat.realtime import envelope
from chat.realtime.context import fresh_context
from chat.realtime.hub import RoomHub, room_group
from chat.realtime.people import person_group
from chat.realtime.sockets import CLOSE_TRY_AGAIN, LocalSocket, step_eagerly

__all__ = [
    "CLOSE_TRY_AGAIN",
    "LocalSocket",
    "RoomHub",
    "announce",
    "fresh_context",
    "layer_answers",
    "notify_person",
    "restrict",
    "room_group",
    "serving",
    "step_eagerly",
]

# The hub of the runtime that is serving sockets in this process (chat/runtime.py sets it):
# announcements, made from the thread that committed, are handed to its loop.
serving: RoomHub | None = None


async def layer_answers() -> None:
    """Returns once the channel layer answers (for /readyz); the caller sets the timeout."""
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        # A ping, not a message: channels_redis serves one receive per process at a time,
        # the hub's room subscriptions already hold it, and a probe waiting its turn
        # would time out (and, cancelled, could leave a subscription unable to stop).
        await layer.connection(0).ping()
        return
    channel = await layer.new_channel("health.")
    await layer.send(channel, {"type": "health.ping"})
    await layer.receive(channel)


def announce(room_id: int, first_seq: int, frames: list[str], *, repeat: bool = False) -> None:
    """Send a room's committed events, encoded frames numbered on from `first_seq`, to
    every socket in the room. Should only be called from services, on commit, from the
    thread that committed; it does not wait for the delivery. With `repeat`, the events
    were announced before (or should have been): receivers deliver only what they miss."""
    committed_at = None if repeat else time.time()
    current = serving
    if current is not None and current.loop.is_running() and not current.loop.is_closed():
        current.loop.call_soon_threadsafe(
            current.publish,
            room_id,
            first_seq,
            frames,
            committed_at,
            repeat,
            context=fresh_context(),
        )
    else:
        # No sockets served by this process (a management command, say): publish directly
        # for other processes.
        event = envelope.RoomFrames(first_seq, frames, committed_at, repeat)
        async_to_sync(get_channel_layer().group_send)(room_group(room_id), event.message())


def notify_person(
    person_id: int, frame: str, *, watch: int | None = None, leave: int | None = None
) -> None:
    """Send an encoded hint to every socket of one person, in every process (with `watch`,
    those sockets start following that room's activity; with `leave`, they stop, and the
    person's sockets in that room are closed). Should only be called from services, on
    commit; it does not wait for the delivery, and a hint may be lost."""
    current = serving
    if current is not None and current.loop.is_running() and not current.loop.is_closed():
        current.loop.call_soon_threadsafe(
            current.notify_person, person_id, frame, watch, leave, context=fresh_context()
        )
    else:
        hint = envelope.PersonHint(frame, origin="", watch=watch, leave=leave)
        async_to_sync(get_channel_layer().group_send)(person_group(person_id), hint.message())


def restrict(room_id: int, members: list[int]) -> None:
    """The room is private now: the sockets in it of anyone but `members` (and staff) are
    closed with 4403, in every process. Should only be called from services, on commit."""
    current = serving
    if current is not None and current.loop.is_running() and not current.loop.is_closed():
        current.loop.call_soon_threadsafe(
            current.restrict, room_id, members, context=fresh_context()
        )
    else:
        event = envelope.RoomRestricted(members, origin="")
        async_to_sync(get_channel_layer().group_send)(room_group(room_id), event.message())
