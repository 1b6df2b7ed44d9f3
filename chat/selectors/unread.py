"""A person's rooms and what is new in them.

Unread is what others posted after the person's `last_read_seq` and is still there:
exact under deletion, blind to edits and reactions (they are not messages). A count stops
at UNREAD_CAP ("99+" on the page), so its cost is one short range of the `(room, seq)`
index however long the person has been away.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F, QuerySet

from chat import protocol
from chat.models import Membership, Mention, Message, Room
from chat.selectors.rooms import direct_titles

UNREAD_CAP = 100
MY_ROOMS_MAX = 200


def unread_messages(*, room_id: int, person_id: int, after_seq: int) -> QuerySet[Message]:
    """Messages by others after `after_seq` in the room, not deleted; at most UNREAD_CAP."""
    return (
        Message.objects.filter(room_id=room_id, seq__gt=after_seq, deleted_at__isnull=True)
        .exclude(sender_id=person_id)
        .order_by("seq")[:UNREAD_CAP]
    )


def unread_count(*, room_id: int, person_id: int, after_seq: int) -> int:
    return unread_messages(room_id=room_id, person_id=person_id, after_seq=after_seq).count()


@dataclass(frozen=True, slots=True)
class MyRoom:
    room: Room
    role: str
    last_read_seq: int
    unread: int
    mentioned: list[int]  # the unread messages that mention the person, by number
    notify: str
    title: str  # the room's name; a direct conversation's, the other people's names

    @property
    def unread_label(self) -> str:
        return "99+" if self.unread >= UNREAD_CAP else str(self.unread)


def room_ids_of(*, person_id: int, limit: int = MY_ROOMS_MAX) -> set[int]:
    """The person's rooms (the most recently active ones, if they are in very many)."""
    memberships = Membership.objects.filter(person_id=person_id).order_by(
        F("room__last_message_at").desc(nulls_last=True)
    )
    return set(memberships.values_list("room_id", flat=True)[:limit])


def summary(mine: MyRoom) -> protocol.RoomSummary:
    room = mine.room
    return protocol.RoomSummary(
        id=room.pk,
        name=mine.title,
        private=room.private,
        role=mine.role,
        last_seq=room.last_seq,
        last_read_seq=mine.last_read_seq,
        unread=mine.unread,
        active_at=room.last_message_at.isoformat() if room.last_message_at else None,
        mentioned=mine.mentioned,
        notify=mine.notify,  # type: ignore[arg-type]  # one of the model's choices
        direct=room.direct,
    )


def room_summaries(*, person_id: int) -> list[protocol.RoomSummary]:
    return [summary(mine) for mine in rooms_of(person_id=person_id)]


def room_summary(*, person_id: int, room_id: int) -> protocol.RoomSummary | None:
    membership = (
        Membership.objects.filter(person_id=person_id, room_id=room_id)
        .select_related("room")
        .first()
    )
    if membership is None:
        return None
    mentioned = list(
        Mention.objects.filter(
            person_id=person_id, room_id=room_id, seq__gt=membership.last_read_seq
        )
        .order_by("seq")
        .values_list("seq", flat=True)[:UNREAD_CAP]
    )
    titles = (
        direct_titles(room_ids=[room_id], viewer_id=person_id) if membership.room.direct else {}
    )
    return summary(_mine(membership, person_id, {room_id: mentioned}, titles))


def unread_mentions(*, person_id: int) -> dict[int, list[int]]:
    """The person's unread mentions in all their rooms, by room, in one query over the
    (person, room, seq) index."""
    rows = (
        Mention.objects.filter(
            person_id=person_id,
            room__memberships__person_id=person_id,
            seq__gt=F("room__memberships__last_read_seq"),
        )
        .order_by("room_id", "seq")
        .values_list("room_id", "seq")[: UNREAD_CAP * 20]
    )
    mentioned: dict[int, list[int]] = {}
    for room_id, seq in rows:
        seqs = mentioned.setdefault(room_id, [])
        if len(seqs) < UNREAD_CAP:
            seqs.append(seq)
    return mentioned


def _mine(
    membership: Membership,
    person_id: int,
    mentioned: dict[int, list[int]],
    titles: dict[int, str],
) -> MyRoom:
    unread = 0
    if membership.last_read_seq < membership.room.last_seq:
        unread = unread_count(
            room_id=membership.room_id, person_id=person_id, after_seq=membership.last_read_seq
        )
    return MyRoom(
        room=membership.room,
        role=membership.role,
        last_read_seq=membership.last_read_seq,
        unread=unread,
        mentioned=mentioned.get(membership.room_id, []) if unread else [],
        notify=membership.notify,
        title=titles.get(membership.room_id, membership.room.name),
    )


def rooms_of(*, person_id: int, limit: int = MY_ROOMS_MAX) -> list[MyRoom]:
    """The person's rooms, the most recently active first, each with its unread count."""
    memberships = list(
        Membership.objects.filter(person_id=person_id)
        .select_related("room")
        .order_by(F("room__last_message_at").desc(nulls_last=True), "-room__created_at")[:limit]
    )
    mentioned = unread_mentions(person_id=person_id)
    direct = [m.room_id for m in memberships if m.room.direct]
    titles = direct_titles(room_ids=direct, viewer_id=person_id) if direct else {}
    return [_mine(membership, person_id, mentioned, titles) for membership in memberships]
