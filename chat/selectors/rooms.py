"""Reads about rooms."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import F

from chat import protocol
from chat.access import MAX_ID, Person, rooms_visible
from chat.models import Membership, Room, name_key

__all__ = [
    "MAX_ID",
    "direct_titles",
    "is_member",
    "members_by_prefix",
    "room_get",
    "room_invited_to",
    "room_last_seq",
    "room_members",
    "room_position",
    "room_title",
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
    """The rooms the person may see, the most recently active first (direct conversations
    only in their people's own lists)."""
    return list(
        rooms_visible(person)
        .exclude(pk__in=exclude)
        .exclude(direct=True)
        .order_by(F("last_message_at").desc(nulls_last=True), "-created_at")[:limit]
    )


def direct_titles(*, room_ids: Collection[int], viewer_id: int | None) -> dict[int, str]:
    """What each of these direct conversations is called by the viewer: the other people's
    names, in alphabetical order."""
    names: dict[int, list[str]] = {room_id: [] for room_id in room_ids}
    others = (
        Membership.objects.filter(room_id__in=room_ids)
        .exclude(person_id=viewer_id)
        .order_by("person__username")
        .values_list("room_id", "person__display_name", "person__username")
    )
    for room_id, display_name, username in others:
        names[room_id].append(display_name or username)
    return {room_id: ", ".join(people) or "Only you" for room_id, people in names.items()}


def room_title(room: Room, *, viewer_id: int | None) -> str:
    """The room's name, or for a direct conversation the viewer's name for it."""
    if not room.direct:
        return room.name
    return direct_titles(room_ids=[room.pk], viewer_id=viewer_id)[room.pk]


def room_members(*, room_id: int) -> list[Membership]:
    """Everyone in the room with their role, owners first, then by name."""
    order = {Membership.OWNER: 0, Membership.MODERATOR: 1, Membership.MEMBER: 2}
    members = list(Membership.objects.filter(room_id=room_id).select_related("person"))
    return sorted(members, key=lambda m: (order.get(m.role, 3), m.person.username))


INVITE_TOKEN_MAX_CHARS = 64


def room_invited_to(*, token: str) -> Room | None:
    """The room an invitation link leads to, while the link works."""
    if not token or len(token) > INVITE_TOKEN_MAX_CHARS:
        return None
    return Room.objects.filter(invite_token=token).first()
