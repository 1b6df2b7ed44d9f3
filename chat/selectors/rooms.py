"""Reads about rooms."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import F

from chat import protocol
from chat.access import MAX_ID, Person, rooms_visible
from chat.models import Membership, Room, name_key

__all__ = [
    "MAX_ID",
    "is_member",
    "members_by_prefix",
    "room_get",
    "room_last_seq",
    "room_position",
    "rooms_recent",
]


def room_get(*, room_id: int) -> Room | None:
    if not 0 < room_id <= MAX_ID:
        return None
    return Room.objects.filter(pk=room_id).first()


def is_member(*, person_id: int, room_id: int) -> bool:
    return Membership.objects.filter(room_id=room_id, person_id=person_id).exists()


def members_by_prefix(
    *, room_id: int, prefix: str, exclude_id: int, limit: int = 8
) -> list[protocol.Sender]:
    """The room's members whose name starts with `prefix` (in any case), for suggesting
    whom to mention."""
    members = (
        Membership.objects.filter(room_id=room_id, person__username__startswith=name_key(prefix))
        .exclude(person_id=exclude_id)
        .select_related("person")
        .order_by("person__username")[:limit]
    )
    return [protocol.Sender(id=m.person_id, name=m.person.name) for m in members]


def room_last_seq(*, room_id: int) -> int | None:
    """The room's last number, or None if there is no such room."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).first()


def room_position(*, room_id: int) -> tuple[int, str] | None:
    """The room's last number and its epoch, or None if there is no such room."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", "epoch").first()


def rooms_recent(*, person: Person, exclude: Collection[int] = (), limit: int = 50) -> list[Room]:
    """The rooms the person may see, the most recently active first."""
    return list(
        rooms_visible(person)
        .exclude(pk__in=exclude)
        .order_by(F("last_message_at").desc(nulls_last=True), "-created_at")[:limit]
    )
