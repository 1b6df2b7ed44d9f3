"""What many tests share: capturing what services announce, and checking that a client
applying it ends where a fresh read does."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import msgspec
from django.test import TestCase

from chat import protocol, selectors


@dataclass
class Announced:
    """What was announced, in order: each call as (room id, its events, repeat)."""

    calls: list[tuple[int, list[protocol.RoomEventFrame], bool]] = field(default_factory=list)

    @property
    def events(self) -> list[protocol.RoomEventFrame]:
        return [event for _, events, _ in self.calls for event in events]

    def record(self, room_id: int, first_seq: int, frames: list[str], *, repeat=False) -> None:
        events = [protocol.decode_room_event(frame) for frame in frames]
        assert [event.seq for event in events] == list(range(first_seq, first_seq + len(events)))
        self.calls.append((room_id, events, repeat))


@contextlib.contextmanager
def capture_events() -> Iterator[Announced]:
    """Record every room event a service announces (instead of delivering it)."""
    announced = Announced()
    with mock.patch("chat.realtime.announce", side_effect=announced.record):
        yield announced


def apply_events(
    states: dict[int, protocol.WireMessage], events: list[protocol.RoomEventFrame]
) -> dict[int, protocol.WireMessage]:
    """What a client does with room events (the page's rules, in Python): a message's newer
    state replaces an older one, never the reverse; a reaction event newer than the
    message's version sets who reacts with its emoji."""
    states = dict(states)
    for event in events:
        if isinstance(event, protocol.RoomChanged):
            continue  # about the room, not its messages
        if isinstance(event, protocol.ReactionChanged):
            current = states.get(event.message_seq)
            if current is None or event.seq <= current.version:
                continue
            reactions = [r for r in current.reactions if r.emoji != event.emoji]
            if event.people:
                position = next(
                    (n for n, r in enumerate(current.reactions) if r.emoji == event.emoji),
                    len(reactions),
                )
                reactions.insert(position, protocol.ReactionState(event.emoji, event.people))
            states[event.message_seq] = msgspec.structs.replace(
                current, reactions=reactions, version=event.seq
            )
        else:
            current = states.get(event.message.seq)
            if current is None:
                if isinstance(event, protocol.MessageCreated):  # others: not on the page
                    states[event.message.seq] = event.message
            elif event.message.version > current.version:
                states[event.message.seq] = event.message
    return states


def room_state(room_id: int) -> dict[int, protocol.WireMessage]:
    """Every message of the room as a fresh read shows it, by seq."""
    page = selectors.messages_before(room_id=room_id, limit=10_000)
    return {message.seq: message for message in page.messages}


@contextlib.contextmanager
def verify_action(room_id: int) -> Iterator[Announced]:
    """Zulip's verify_action: the state read before an action, plus the events it
    announced, must equal a fresh read after it. Run the action inside the block."""
    before = room_state(room_id)
    with capture_events() as announced, TestCase.captureOnCommitCallbacks(execute=True):
        yield announced
    assert apply_events(before, announced.events) == room_state(room_id)
