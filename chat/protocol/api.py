"""What the HTTP API (/api/v1/) answers beyond the socket's own shapes: a room, a page of
search results. Messages, pages of history, the room log (`sync.result`, `reset`) and
errors are the socket's structs, so a bot reads exactly what a browser reads."""

from __future__ import annotations

from datetime import datetime

import msgspec

from chat.protocol.reading import RoomSummary

__all__ = ["RoomInfo", "RoomList", "SearchHit", "SearchPage", "SnippetPiece"]


class RoomInfo(msgspec.Struct):
    id: int
    name: str  # a direct conversation's: the other people's names
    private: bool
    direct: bool
    # The room log's position: its last number, and the run of numbers it belongs to.
    last_seq: int
    epoch: str


class RoomList(msgspec.Struct):
    rooms: list[RoomSummary]


class SnippetPiece(msgspec.Struct):
    text: str
    match: bool


class SearchHit(msgspec.Struct):
    room_id: int
    room_name: str
    seq: int
    sender: str
    sent_at: datetime
    snippet: list[SnippetPiece]  # the text as read, in pieces; `match` marks the words found


class SearchPage(msgspec.Struct):
    hits: list[SearchHit]
    # Pass back as `before` for the next page; none at the last one.
    next_before: int | None = None
