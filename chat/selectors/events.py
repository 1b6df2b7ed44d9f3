"""The room log after a number: what a reconnecting client, or a process that saw a gap,
missed.

A new message is its own event (the message row, by its `seq`); every other change is a
RoomEvent row. Both are read by keyset on (room, seq) over one range of numbers and
merged, so the cost follows what was missed. Events that are about a message carry the
message's current state, not its state back then: a deleted message's words are never
sent again, and since a client keeps the higher `version` of a message, a state newer
than the event changes nothing that a later event would not.
"""

from __future__ import annotations

import msgspec

from chat import protocol
from chat.models import Message, RoomEvent
from chat.selectors.messages import messages_with_state, wire_messages
from chat.selectors.rooms import room_position

_MESSAGE_FRAMES: dict[str, type[protocol.MessageEdited | protocol.MessageDeleted]] = {
    RoomEvent.MESSAGE_EDITED: protocol.MessageEdited,
    RoomEvent.MESSAGE_DELETED: protocol.MessageDeleted,
}


def room_events_after(*, room_id: int, after_seq: int, up_to_seq: int) -> list[tuple[int, str]]:
    """The room's events numbered after `after_seq` up to `up_to_seq`, in order, each as
    (seq, encoded frame). Every number up to `up_to_seq` must be committed (it is, up to the
    room's `last_seq` as read before)."""
    created = list(
        messages_with_state()
        .filter(room_id=room_id, seq__gt=after_seq, seq__lte=up_to_seq)
        .order_by("seq")
    )
    changes = list(
        RoomEvent.objects.filter(room_id=room_id, seq__gt=after_seq, seq__lte=up_to_seq)
        .select_related("message")
        .order_by("seq")
    )
    # The current state of every message an event is about, read once each.
    known = {m.pk: m for m in created}
    missing = {e.message_id for e in changes if e.kind in _MESSAGE_FRAMES} - set(known)
    known.update({m.pk: m for m in messages_with_state().filter(pk__in=missing)})
    states = dict(zip(known, wire_messages(list(known.values())), strict=True))

    frames: list[tuple[int, str]] = [
        (m.seq, protocol.encode(protocol.MessageCreated(seq=m.seq, message=states[m.pk])))
        for m in created
    ]
    for event in changes:
        frame_class = _MESSAGE_FRAMES.get(event.kind)
        frame: protocol.Frame
        if event.kind == RoomEvent.ROOM_CHANGED:
            frame = protocol.RoomChanged(
                seq=event.seq, name=event.payload["name"], private=event.payload["private"]
            )
        elif frame_class is not None:
            frame = frame_class(seq=event.seq, message=states[event.message_id])
        else:
            message = event.message
            assert message is not None  # every other kind is about a message
            people = [] if message.deleted else event.payload["people"]
            # A tombstone keeps no reactions: its old events say nobody, and name no one.
            frame = reaction_changed(event.seq, message, {**event.payload, "people": people})
        frames.append((event.seq, protocol.encode(frame)))
    frames.sort(key=lambda pair: pair[0])
    return frames


def reaction_changed(seq: int, message: Message, payload: dict) -> protocol.ReactionChanged:
    return protocol.ReactionChanged(
        seq=seq,
        message_seq=message.seq,
        emoji=payload["emoji"],
        people=[protocol.Sender(id=p["id"], name=p["name"]) for p in payload["people"]],
    )


def catch_up(
    *, room_id: int, after_seq: int, epoch: str | None, page_max: int, resync_max: int
) -> protocol.SyncResult | protocol.Reset | None:
    """The answer to a client's `sync`: up to `page_max` events after its number, or a
    reset when its number cannot be trusted or is more than `resync_max` behind. None when
    there is no such room."""
    position = room_position(room_id=room_id)
    if position is None:
        return None
    last_seq, room_epoch = position
    reason = None
    if epoch is not None and epoch != room_epoch:
        reason = "epoch"
    elif after_seq > last_seq:
        reason = "ahead"
    elif last_seq - after_seq > resync_max:
        reason = "too_far_behind"
    if reason is not None:
        return protocol.Reset(last_seq=last_seq, epoch=room_epoch, reason=reason)
    up_to = min(last_seq, after_seq + page_max)
    events = room_events_after(room_id=room_id, after_seq=after_seq, up_to_seq=up_to)
    return protocol.SyncResult(
        events=[msgspec.Raw(frame) for _, frame in events],
        has_more=up_to < last_seq,
        last_seq=up_to,
    )
