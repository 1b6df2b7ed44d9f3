"""Reading: how far a person has seen a room, which moves their unread count."""

from __future__ import annotations

from chat.protocol.base import Frame, Seq

__all__ = ["Read"]


class Read(Frame, tag="read"):
    """The person has seen the room up to `seq` in a focused tab. Their read position only
    moves forward; a number past the room's last one counts as its last. Unanswered."""

    seq: Seq
