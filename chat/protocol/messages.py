"""Messages on the wire: posting, editing and deleting, and the message's current state."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from chat.protocol.base import ClientId, Frame, Seq
from chat.protocol.files import FileKeys, WireFile

__all__ = [
    "Ack",
    "DeleteMessage",
    "EditMessage",
    "HistoryPage",
    "MessageCreated",
    "MessageDeleted",
    "MessageEdited",
    "ReactionState",
    "ReplyPreview",
    "SendMessage",
    "Sender",
    "WireMessage",
]

# Frames a client sends.

MENTIONS_MAX = 20
# Whom a message mentions, by id (from the composer's suggestions): someone who is not a
# member of the room, or whose "@name" is not in the text, stays plain text.
Mentions = Annotated[list[Seq], msgspec.Meta(max_length=MENTIONS_MAX)]


class SendMessage(Frame, tag="message.send"):
    """Post `text` to the room, as a reply to the message numbered `reply_to` if given,
    with the files uploaded beforehand under `files` (their keys; then `text` may be
    empty). `client_id` is unique per message: a resend is answered with the stored
    message instead of storing a second copy."""

    client_id: ClientId
    text: str
    reply_to: Seq | None = None
    mentions: Mentions = msgspec.field(default_factory=list)
    files: FileKeys = msgspec.field(default_factory=list)


class EditMessage(Frame, tag="message.edit"):
    """Replace the text of one's own message `message_seq`. An edit to the text it already
    has changes nothing and takes no number, so sending it again is safe. `client_id`
    names this change: its `ack` or `error` carries it."""

    message_seq: Seq
    text: str
    client_id: ClientId
    mentions: Mentions = msgspec.field(default_factory=list)


class DeleteMessage(Frame, tag="message.delete"):
    """Delete one's own message (the room's owners and moderators, and staff: anyone's);
    it stays as a tombstone. Deleting a deleted message changes nothing."""

    message_seq: Seq
    client_id: ClientId


# The state of a message, as pages, acks and events carry it.


class Sender(msgspec.Struct):
    id: int
    name: str


class ReplyPreview(msgspec.Struct, omit_defaults=True):
    """What a reply shows of the message it answers: the original's current state."""

    seq: int
    sender: Sender
    excerpt: str  # its first line, shortened; empty once deleted
    deleted: bool = False


class ReactionState(msgspec.Struct):
    emoji: str
    people: list[Sender]  # in the order they reacted; the count is its length


class WireMessage(msgspec.Struct, omit_defaults=True):
    """A message as it is now. `seq` is its creation number (its place in the room, for
    ever); `version` the number of its latest change: of two states of one message, the
    higher version is the newer."""

    seq: int
    version: int
    text: str  # the source, as its sender wrote it
    sender: Sender
    sent_at: datetime
    client_id: str
    edited_at: datetime | None = None
    deleted: bool = False
    reply_to: ReplyPreview | None = None
    reactions: list[ReactionState] = msgspec.field(default_factory=list)
    # Who it mentions, each name as the text writes it after "@".
    mentions: list[Sender] = msgspec.field(default_factory=list)
    # The text as sanitised HTML (chat.formatting): the only markup a client may insert.
    html: str = ""
    files: list[WireFile] = msgspec.field(default_factory=list)


# Frames the server sends. Room events carry the room's number `seq` first.


class MessageCreated(Frame, tag="message.created"):
    """A message was stored; to every socket in the room, the sender's included."""

    seq: int
    message: WireMessage


class MessageEdited(Frame, tag="message.edited"):
    seq: int
    message: WireMessage


class MessageDeleted(Frame, tag="message.deleted"):
    """The message is now a tombstone: no text, no reactions."""

    seq: int
    message: WireMessage


class Ack(Frame, tag="ack"):
    """Only to the sender: the frame with this `client_id` is done, and `message` is the
    message's state after it (for a post, the stored message, also when it was a resend)."""

    client_id: str
    message: WireMessage


class HistoryPage(msgspec.Struct):
    """The history endpoint's answer (HTTP, not a socket frame): GET /r/<room>/messages."""

    messages: list[WireMessage]
    has_more: bool
