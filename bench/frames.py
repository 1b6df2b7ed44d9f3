"""The frames of docs/protocol.md as the load generator sees them.

Decoding into typed structs checks each frame's shape (a missing `seq` or `sender` is a
decode error, counted as a protocol violation) at msgspec's speed.
"""

from __future__ import annotations

import msgspec


class Sender(msgspec.Struct):
    id: int
    name: str


class WireMessage(msgspec.Struct):
    seq: int
    text: str
    sender: Sender
    sent_at: str
    client_id: str


class MessageFrame(msgspec.Struct, tag_field="type", tag="message.created"):
    seq: int
    message: WireMessage


class AckFrame(msgspec.Struct, tag_field="type", tag="ack"):
    client_id: str
    message: WireMessage


class SyncResultFrame(msgspec.Struct, tag_field="type", tag="sync.result"):
    events: list[MessageFrame]  # only messages are posted here: each event is a creation
    has_more: bool
    last_seq: int

    @property
    def messages(self) -> list[WireMessage]:
        return [event.message for event in self.events]


class ErrorFrame(msgspec.Struct, tag_field="type", tag="error"):
    code: str
    detail: str = ""
    client_id: str | None = None
    retry_after_ms: int | None = None


class EditedFrame(msgspec.Struct, tag_field="type", tag="message.edited"):
    seq: int
    message: WireMessage


class ReactionFrame(msgspec.Struct, tag_field="type", tag="reaction.changed"):
    seq: int
    message_seq: int
    emoji: str
    people: list[Sender]


class PresenceFrame(msgspec.Struct, tag_field="type", tag="presence"):
    people: list[Sender]


class TypingFrame(msgspec.Struct, tag_field="type", tag="typing"):
    people: list[Sender]


ServerFrame = (
    MessageFrame
    | AckFrame
    | SyncResultFrame
    | ErrorFrame
    | EditedFrame
    | ReactionFrame
    | PresenceFrame
    | TypingFrame
)
EPHEMERA = (PresenceFrame, TypingFrame)

decode_server_frame = msgspec.json.Decoder(ServerFrame).decode


class SendMessage(msgspec.Struct, tag_field="type", tag="message.send"):
    client_id: str
    text: str


class Sync(msgspec.Struct, tag_field="type", tag="sync"):
    after_seq: int


class EditMessage(msgspec.Struct, tag_field="type", tag="message.edit"):
    client_id: str
    message_seq: int
    text: str


class AddReaction(msgspec.Struct, tag_field="type", tag="reaction.add"):
    client_id: str
    message_seq: int
    emoji: str


class RemoveReaction(msgspec.Struct, tag_field="type", tag="reaction.remove"):
    client_id: str
    message_seq: int
    emoji: str


class Typing(msgspec.Struct, tag_field="type", tag="typing"):
    pass


encode_client_frame = msgspec.json.Encoder().encode
