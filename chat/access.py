"""Who may see and write in a room: the one rule every page, socket, read path and (later)
search, notification and API call asks.

A public room is open to anyone with a name (a guest or an account); a private room only
to its members, and to staff. Outside that, nothing about a private room shows anywhere:
callers answer as they would for a room that does not exist (404 for pages, 4403 for a
socket, which has already named the room in its URL).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from chat.models import Membership, Room, User

MAX_ID = 2**63 - 1  # larger numbers from a URL cannot be ids, and databases refuse them

Person = AbstractBaseUser | AnonymousUser


def may_enter(person: Person, *, private: bool, member: bool) -> bool:
    """The rule itself, for callers that already hold the facts (the socket's lookups)."""
    if not person.is_authenticated:
        return False
    return not private or member or bool(getattr(person, "is_staff", False))


# Who deletes anyone's message in a room (and, with staff, moderates it).
MODERATING_ROLES = (Membership.OWNER, Membership.MODERATOR)


def moderates(person: User, room_id: int) -> bool:
    if person.is_staff:
        return True
    return Membership.objects.filter(
        room_id=room_id, person=person, role__in=MODERATING_ROLES
    ).exists()


@dataclass(frozen=True, slots=True)
class RoomAccess:
    room: Room
    membership: Membership | None
    staff: bool

    @property
    def moderates(self) -> bool:
        role = self.membership.role if self.membership else None
        return self.staff or role in MODERATING_ROLES

    @property
    def owns(self) -> bool:
        """Renames the room, makes it private, invites, makes moderators, removes members."""
        role = self.membership.role if self.membership else None
        return self.staff or role == Membership.OWNER


def room_access(person: Person, room_id: int) -> RoomAccess | None:
    """The room and the person's place in it, or None when there is no such room or the
    person may not know of it."""
    if not person.is_authenticated or not 0 < room_id <= MAX_ID:
        return None
    room = Room.objects.filter(pk=room_id).first()
    if room is None:
        return None
    membership = Membership.objects.filter(room=room, person_id=person.pk).first()
    staff = bool(getattr(person, "is_staff", False))
    if not may_enter(person, private=room.private, member=membership is not None):
        return None
    return RoomAccess(room, membership, staff)


def rooms_visible(person: Person) -> QuerySet[Room]:
    """Every room the person may know of: the public ones and their own private ones."""
    rooms = Room.objects.all()
    if isinstance(person, User) and person.is_staff:
        return rooms
    if not person.is_authenticated:
        return rooms.filter(private=False)
    return rooms.filter(Q(private=False) | Q(memberships__person_id=person.pk)).distinct()


def outsiders(
    writers: set[tuple[int, User]], *, private: set[int] | None = None
) -> set[tuple[int, int]]:
    """Of these (room, person) pairs, those where the person may not write, as (room id,
    person id): private rooms they are not in (removed, say, while their socket was still
    open). Staff may write anywhere. `private`: which of the rooms are private, if known
    (else read); then one query, only if a room is private."""
    if private is None:
        room_ids = {room_id for room_id, _ in writers}
        private = set(
            Room.objects.filter(pk__in=room_ids, private=True).values_list("pk", flat=True)
        )
    wanted = {
        (room_id, person.pk)
        for room_id, person in writers
        if room_id in private and not person.is_staff
    }
    if not wanted:
        return set()
    allowed = Membership.objects.filter(
        room_id__in={room_id for room_id, _ in wanted},
        person_id__in={person_id for _, person_id in wanted},
    ).values_list("room_id", "person_id")
    return wanted - set(allowed)
