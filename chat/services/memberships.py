"""Memberships: joining a room (its maker owns it), and how far a person has read."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import PositiveBigIntegerField, Subquery, Value
from django.db.models.functions import Least

from chat import protocol, realtime, selectors
from chat.models import Membership, Room, User, name_key


def room_join(*, name: str, person: User) -> Room:
    """The public room called `name` (found case-insensitively), with the person a member;
    made if it does not exist, and then theirs."""
    key = name_key(name)
    room = Room.objects.filter(key=key).first()
    created = False
    if room is None:
        try:
            with transaction.atomic():
                room = Room.objects.create(name=name)
                created = True
        except IntegrityError:  # someone made it a moment ago
            room = Room.objects.get(key=key)
    membership_join(room=room, person=person, role=Membership.OWNER if created else None)
    return room


def membership_join(*, room: Room, person: User, role: str | None = None) -> Membership:
    """The person's membership of the room, made if they were not in it yet (a member,
    unless `role` says otherwise). Joining starts with everything already there read."""
    membership = Membership.objects.filter(room=room, person=person).first()
    if membership is not None:
        return membership
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                room=room,
                person=person,
                role=role or Membership.MEMBER,
                last_read_seq=room.last_seq,
                # In a direct conversation every message is for you.
                notify=Membership.NOTIFY_ALL if room.direct else Membership.NOTIFY_MENTIONS,
            )
    except IntegrityError:  # the same person's other tab, a moment ago
        return Membership.objects.get(room=room, person=person)
    # Read once committed: a direct conversation's name is its other people, who may be
    # joining in the same transaction.
    transaction.on_commit(lambda: _announce_joined(person.pk, room.pk), robust=True)
    return membership


def _announce_joined(person_id: int, room_id: int) -> None:
    """The person's open tabs list the room, and follow it, from now on."""
    joined = selectors.room_summary(person_id=person_id, room_id=room_id)
    if joined is not None:
        frame = protocol.encode(protocol.RoomJoined(room=joined))
        realtime.notify_person(person_id, frame, watch=room_id)


def read_mark(*, person: User, room_id: int, seq: int) -> int | None:
    """The person has seen the room up to `seq`: their read position moves there (never
    back, never past the room's last number). Returns the position now, or None when they
    are not a member."""
    room_last_seq = Subquery(Room.objects.filter(pk=room_id).values("last_seq")[:1])
    moved = Membership.objects.filter(room_id=room_id, person=person, last_read_seq__lt=seq).update(
        last_read_seq=Least(Value(seq, output_field=PositiveBigIntegerField()), room_last_seq)
    )
    now = selectors.room_summary(person_id=person.pk, room_id=room_id)
    if now is None:
        return None
    if moved:
        # Every tab and device of theirs shows the room's count as it is now.
        frame = protocol.encode(
            protocol.ReadNow(
                room_id=room_id,
                last_read_seq=now.last_read_seq,
                unread=now.unread,
                mentioned=now.mentioned,
                last_seq=now.last_seq,
            )
        )
        transaction.on_commit(lambda: realtime.notify_person(person.pk, frame))
    return now.last_read_seq


def notify_set(*, person: User, room_id: int, level: str) -> bool:
    """What the person is notified of in the room; False when they are not a member."""
    if not Membership.objects.filter(room_id=room_id, person=person).update(notify=level):
        return False
    frame = protocol.encode(protocol.NotifyNow(room_id=room_id, level=level))  # type: ignore[arg-type]
    transaction.on_commit(lambda: realtime.notify_person(person.pk, frame))
    return True
