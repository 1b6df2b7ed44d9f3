"""The WebSocket wire schema: one msgspec struct per frame, validation, encoding. No Django.

Every frame is a JSON object whose "type" says what it is; docs/protocol.md shows each
with an example. Decoding raises `ProtocolError` with a machine-readable code, which the
consumer sends back as an error frame; the connection carries on.

Frames of the room log (`message.created`, `message.edited`, `message.deleted`,
`reaction.changed`, `room.changed`) carry the room's number `seq` first: clients apply
them in that order, and the hub orders and gap-fills them by it alone, blind to their
kinds.
"""

from chat.protocol.api import RoomInfo, RoomList, SearchHit, SearchPage, SnippetPiece
from chat.protocol.base import (
    CLOSE_FORBIDDEN,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_ROOM_NOT_FOUND,
    CLOSE_TOO_MANY,
    ClientId,
    Error,
    Frame,
    ProtocolError,
    Seq,
    clean_text,
    encode,
    encode_json,
)
from chat.protocol.client import CLIENT_FRAMES, ClientFrame, decode_client_frame
from chat.protocol.ephemera import PresenceNow, Typing, TypingNow
from chat.protocol.events import RoomEventFrame, decode_room_event
from chat.protocol.files import FILES_PER_MESSAGE_MAX, FileKey, WireFile
from chat.protocol.messages import (
    Ack,
    DeleteMessage,
    EditMessage,
    HistoryPage,
    MessageCreated,
    MessageDeleted,
    MessageEdited,
    ReactionState,
    ReplyPreview,
    Sender,
    SendMessage,
    WireMessage,
)
from chat.protocol.reactions import AddReaction, ReactionChanged, RemoveReaction
from chat.protocol.reading import (
    NotifyNow,
    NotifySet,
    Read,
    ReadNow,
    RoomActivity,
    RoomJoined,
    RoomsNow,
    RoomSummary,
)
from chat.protocol.rooms import RoomChanged, RoomLeft
from chat.protocol.sync import Ping, Pong, Reset, Sync, SyncResult

__all__ = [
    "CLIENT_FRAMES",
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_AUTHENTICATED",
    "CLOSE_ROOM_NOT_FOUND",
    "CLOSE_TOO_MANY",
    "FILES_PER_MESSAGE_MAX",
    "Ack",
    "AddReaction",
    "ClientFrame",
    "ClientId",
    "DeleteMessage",
    "EditMessage",
    "Error",
    "FileKey",
    "Frame",
    "HistoryPage",
    "MessageCreated",
    "MessageDeleted",
    "MessageEdited",
    "NotifyNow",
    "NotifySet",
    "Ping",
    "Pong",
    "PresenceNow",
    "ProtocolError",
    "ReactionChanged",
    "ReactionState",
    "Read",
    "ReadNow",
    "RemoveReaction",
    "ReplyPreview",
    "Reset",
    "RoomActivity",
    "RoomChanged",
    "RoomEventFrame",
    "RoomInfo",
    "RoomJoined",
    "RoomLeft",
    "RoomList",
    "RoomSummary",
    "RoomsNow",
    "SearchHit",
    "SearchPage",
    "SendMessage",
    "Sender",
    "Seq",
    "SnippetPiece",
    "Sync",
    "SyncResult",
    "Typing",
    "TypingNow",
    "WireFile",
    "WireMessage",
    "clean_text",
    "decode_client_frame",
    "decode_room_event",
    "encode",
    "encode_json",
]
