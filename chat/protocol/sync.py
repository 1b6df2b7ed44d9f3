"""Resuming: catching up on the room log after a number, and the keep-alive."""

from __future__ import annotations

import msgspec

from chat.protocol.base import Frame, Seq

__all__ = ["Ping", "Pong", "Reset", "Sync", "SyncResult"]


class Sync(Frame, tag="sync"):
    """Ask for every event of the room numbered above `after_seq`, in order. `epoch` is
    the room's epoch the client's number belongs to (from the page), if it knows it."""

    after_seq: Seq
    epoch: str | None = None


class SyncResult(Frame, tag="sync.result"):
    """An answer to `sync`: the events, each exactly as it was sent live, in order. With
    `has_more` false the client is caught up to `last_seq`, the room's last number when
    it was read; with true it asks again after the last event's `seq`."""

    events: list[msgspec.Raw]
    has_more: bool
    last_seq: int


class Reset(Frame, tag="reset"):
    """The client's number cannot be caught up from: too far behind (`too_far_behind`),
    ahead of the room (`ahead`), or from another epoch (`epoch`, a database restored from
    a backup). The client reloads its latest page and goes on from `last_seq`."""

    last_seq: int
    epoch: str
    reason: str


class Ping(Frame, tag="ping"):
    """The client's keep-alive (every 25 s or so)."""


class Pong(Frame, tag="pong"):
    """The answer to `ping`, with the room's last number: a client behind it missed the
    last event and asks for it with `sync`."""

    last_seq: int
