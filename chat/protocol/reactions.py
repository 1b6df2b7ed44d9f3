"""Reactions on the wire: one emoji per reaction, added and removed by each person."""

from __future__ import annotations

from chat.protocol.base import ClientId, Frame, Seq
from chat.protocol.messages import Sender

__all__ = ["AddReaction", "ReactionChanged", "RemoveReaction"]


class AddReaction(Frame, tag="reaction.add"):
    """React to the message `message_seq` with one emoji. Adding one's reaction again
    changes nothing and takes no number."""

    message_seq: Seq
    emoji: str
    client_id: ClientId


class RemoveReaction(Frame, tag="reaction.remove"):
    message_seq: Seq
    emoji: str
    client_id: ClientId


class ReactionChanged(Frame, tag="reaction.changed"):
    """Who reacts to `message_seq` with `emoji` now (empty: the reaction is gone)."""

    seq: int
    message_seq: int
    emoji: str
    people: list[Sender]
