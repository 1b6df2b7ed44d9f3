"""Your rooms and what is new in them: the read position, and the per-person hints that
keep a page's room list true (each says the whole truth of what it is about, so a lost
or repeated one does no lasting harm; a page reads its rooms afresh on reconnecting)."""

from __future__ import annotations

from typing import Literal

import msgspec

from chat.protocol.base import Frame, Seq

__all__ = [
    "NotifyLevel",
    "NotifyNow",
    "NotifySet",
    "Read",
    "ReadNow",
    "RoomActivity",
    "RoomJoined",
    "RoomSummary",
    "RoomsNow",
]

NotifyLevel = Literal["all", "mentions", "none"]


class Read(Frame, tag="read"):
    """The person has seen the room up to `seq` in a focused tab. Their read position only
    moves forward; a number past the room's last one counts as its last. When it moves,
    every socket of the person gets `read.now`."""

    seq: Seq


class RoomSummary(msgspec.Struct):
    """One of the person's rooms, for their room list. `unread` stops at 100 ("99+")."""

    id: int
    name: str  # a direct conversation's: the other people's names
    private: bool
    role: str
    last_seq: int
    last_read_seq: int
    unread: int
    active_at: str | None = None  # the last message's time, ISO 8601
    # The numbers of the unread messages that mention the person (at most 100).
    mentioned: list[int] = msgspec.field(default_factory=list)
    notify: NotifyLevel = "mentions"
    direct: bool = False


class RoomsNow(msgspec.Struct):
    """The person's rooms, the most recently active first (GET /rooms/mine)."""

    rooms: list[RoomSummary]


class ReadNow(Frame, tag="read.now"):
    """The person's read position in a room moved (in this tab or another): what is
    unread there now. To every socket of theirs."""

    room_id: int
    last_read_seq: int
    unread: int
    mentioned: list[int] = msgspec.field(default_factory=list)
    # The room's last number when this was read: a page that has seen later events
    # counts them on top (it reads its rooms afresh).
    last_seq: int = 0


class NotifySet(Frame, tag="notify.set"):
    """What the person wants to be notified of in this room: every message by others,
    only those that mention them (the default), or nothing. Every socket of theirs gets
    `notify.now`."""

    level: NotifyLevel


class NotifyNow(Frame, tag="notify.now"):
    """The person's notification level of a room (set in this tab or another)."""

    room_id: int
    level: NotifyLevel


class RoomJoined(Frame, tag="room.joined"):
    """The person is in a new room (joined it in another tab, say): their sockets follow
    its activity from now on."""

    room: RoomSummary


class RoomActivity(Frame, tag="room.activity"):
    """An event of another of the person's rooms, exactly as that room's sockets get it
    (for counting what is new there). The hub makes it by joining strings, once per event
    for every socket that follows the room."""

    room_id: int
    event: msgspec.Raw
