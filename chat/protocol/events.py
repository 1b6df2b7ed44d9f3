"""The room log's frames as one union: for whoever reads them back (tests, tools)."""

from __future__ import annotations

import msgspec

from chat.protocol.messages import MessageCreated, MessageDeleted, MessageEdited
from chat.protocol.reactions import ReactionChanged
from chat.protocol.rooms import RoomChanged

__all__ = ["RoomEventFrame", "decode_room_event"]

RoomEventFrame = MessageCreated | MessageEdited | MessageDeleted | ReactionChanged | RoomChanged

_room_event_decoder = msgspec.json.Decoder(RoomEventFrame)


def decode_room_event(raw: str | bytes) -> RoomEventFrame:
    return _room_event_decoder.decode(raw)
