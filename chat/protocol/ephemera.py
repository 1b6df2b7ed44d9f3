"""Room ephemera: typing and who is here. Not stored, not numbered, and they may be
dropped: each update carries the whole current state, so a lost one is mended by the
next, and clients expire typing on a timer of their own."""

from __future__ import annotations

from chat.protocol.base import Frame
from chat.protocol.messages import Sender

__all__ = ["PresenceNow", "Typing", "TypingNow"]


class Typing(Frame, tag="typing"):
    """From a client: its person is typing (`active`), or stopped (sent a message, emptied
    the box). Beyond one update per 3 s a person's frames are dropped, unanswered."""

    active: bool = True


class TypingNow(Frame, tag="typing"):
    """To clients: everyone typing in the room now (a client leaves itself out)."""

    people: list[Sender]


class PresenceNow(Frame, tag="presence"):
    """To clients: everyone who has the room open now, each person once however many tabs
    they have open, on any worker."""

    people: list[Sender]
