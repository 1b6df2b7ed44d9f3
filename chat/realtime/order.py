"""A room's reorder buffer: hands out numbered frames in order, each once. Pure: no
loop, no layer, no database; the hub decides when to wait and when to read a gap."""

from __future__ import annotations


class RoomOrder:
    """Where a room's events stand in this process: the next number to hand out, and the
    chunks that arrived ahead of it."""

    __slots__ = ("ahead", "next_seq")

    def __init__(self, last_seq: int | None = None) -> None:
        # Unknown until the first event (then that one's); known when read at subscription.
        self.next_seq: int | None = None if last_seq is None else last_seq + 1
        self.ahead: dict[int, list[str]] = {}

    def offer(self, first_seq: int, frames: list[str], repeat: bool = False) -> list[str]:
        """Take the frames numbered from `first_seq`; return those that can be handed out
        now, in order (what was handed out before is dropped). A `repeat` may have been
        handed out already: it fills a gap, and never becomes the starting point."""
        if self.next_seq is None:
            if repeat:
                return []
            self.next_seq = first_seq
        if first_seq > self.next_seq:
            # Of two chunks from one number (a repeat, say), the longer holds the other.
            if len(frames) > len(self.ahead.get(first_seq, ())):
                self.ahead[first_seq] = frames
            return []
        ready = self._take(first_seq, frames)
        for start in sorted(self.ahead):
            if start > self.next_seq:
                break
            ready += self._take(start, self.ahead.pop(start))
        return ready

    def skip_gap(self) -> list[str]:
        """Give up on the missing numbers before the first chunk waiting: hand it out."""
        start = min(self.ahead)
        self.next_seq = start
        return self.offer(start, self.ahead.pop(start))

    def _take(self, first_seq: int, frames: list[str]) -> list[str]:
        assert self.next_seq is not None
        unseen = frames[self.next_seq - first_seq :]
        if unseen:
            self.next_seq = first_seq + len(frames)
        return list(unseen)
