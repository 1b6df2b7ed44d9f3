"""The room itself: renamed or made private (numbered in its log, so every member sees it,
live or on resume), and a person's place in it ended (a hint to that person)."""

from __future__ import annotations

from typing import Literal

from chat.protocol.base import Frame

__all__ = ["RoomChanged", "RoomLeft"]


class RoomChanged(Frame, tag="room.changed"):
    """The room's name or privacy now. A direct conversation has no name (each person
    calls it by the others' names)."""

    seq: int
    name: str
    private: bool


class RoomLeft(Frame, tag="room.left"):
    """The person is no longer in the room: removed by its owner, or the room became
    private without them. Their sockets in it are closed with 4403 right after, and their
    other tabs take it off their room list."""

    room_id: int
    reason: Literal["removed", "private"]
