"""What a room's owner does (and staff, from the admin too): rename it, make it private or
public, invite by a link, give roles, remove members. A rename or a change of privacy is
a numbered event of the room; a removal is a hint to the person removed, whose sockets in
the room are closed.

Every function checks through chat.access, so a person who may not see the room learns
nothing of it (NotFound), and a member who does not own it is told so (Forbidden).
"""

from __future__ import annotations

import secrets

from django.db import IntegrityError, transaction

from chat import protocol, realtime
from chat.access import RoomAccess, room_access
from chat.models import Membership, Room, RoomEvent, User, name_key
from chat.services.log import (
    Forbidden,
    Gone,
    NotFound,
    Refused,
    in_transaction,
    record_event,
    take_number,
)
from chat.services.memberships import membership_join

ROLES = (Membership.OWNER, Membership.MODERATOR, Membership.MEMBER)


class NameTakenByRoom(Refused):
    code = "name_taken"


def owned(person: User, room_id: int) -> RoomAccess:
    """The room, for one who owns it. Raises NotFound (no such room, or not theirs to
    know of) or Forbidden (a member who does not own it)."""
    access = room_access(person, room_id)
    if access is None:
        raise NotFound("No such room.")
    if not access.owns:
        raise Forbidden("Only the room's owners can do that.")
    return access


def room_rename(*, person: User, room_id: int, name: str) -> Room:
    """The room is called `name` now (NameTakenByRoom: a public room of that name exists)."""
    access = owned(person, room_id)
    if access.room.direct:
        raise Refused("A direct conversation has no name: it is called by its people's.")
    return _change_room(access.room.pk, name=name)


def room_privacy_set(*, person: User, room_id: int, private: bool) -> Room:
    """Make the room private (only its members see it; everyone else's sockets in it are
    closed) or public again (anyone may find and join it)."""
    access = owned(person, room_id)
    if access.room.direct:
        raise Refused("A direct conversation stays private.")
    return _change_room(access.room.pk, private=private)


def _change_room(room_id: int, *, name: str | None = None, private: bool | None = None) -> Room:
    def write() -> Room:
        room = Room.objects.select_for_update().get(pk=room_id)
        before = (room.name, room.private)
        if name is not None:
            room.name = name
        if private is not None:
            room.private = private
        if (room.name, room.private) == before:
            return room  # nothing changes: no number
        taken = Room.objects.filter(key=name_key(room.name)).exclude(pk=room.pk)
        if not room.private and taken.exists():
            raise NameTakenByRoom("A public room already has that name; choose another name first.")
        try:
            with transaction.atomic():
                room.save(update_fields=["name", "private", "key"])
        except IntegrityError:  # made a moment ago by someone joining by that name
            raise NameTakenByRoom(
                "A public room already has that name; choose another name first."
            ) from None
        seq = take_number(room.pk)
        payload = {"name": room.name, "private": room.private}
        frame = protocol.RoomChanged(seq=seq, name=room.name, private=room.private)
        record_event(room.pk, seq, RoomEvent.ROOM_CHANGED, frame, payload=payload)
        if room.private and not before[1]:
            members = list(Membership.objects.filter(room=room).values_list("person_id", flat=True))
            transaction.on_commit(lambda: realtime.restrict(room.pk, members), robust=True)
        return room

    room = in_transaction(write)
    room.refresh_from_db()
    return room


def invite_renew(*, person: User, room_id: int) -> str:
    """A new invitation link's secret for the room; the old link stops working."""
    access = owned(person, room_id)
    if access.room.direct:
        raise Refused("Nobody joins a direct conversation by a link.")
    token = secrets.token_urlsafe(24)
    Room.objects.filter(pk=access.room.pk).update(invite_token=token)
    return token


def invite_revoke(*, person: User, room_id: int) -> None:
    access = owned(person, room_id)
    Room.objects.filter(pk=access.room.pk).update(invite_token=None)


def invite_accept(*, person: User, token: str) -> Room:
    """Join the room this link invites to. Raises Gone for a link revoked or renewed."""
    room = Room.objects.filter(invite_token=token).first() if token else None
    if room is None:
        raise Gone("This invitation link no longer works. Ask for a new one.")
    membership_join(room=room, person=person)
    return room


def member_role_set(*, person: User, room_id: int, member_id: int, role: str) -> Membership:
    """Give a member a role: owner, moderator or member. A room keeps at least one owner."""
    access = owned(person, room_id)
    if role not in ROLES:
        raise Refused("A role is owner, moderator or member.")
    if access.room.direct:
        raise Refused("Everyone in a direct conversation has the same place in it.")

    def write() -> Membership:
        memberships = Membership.objects.select_for_update().filter(room_id=room_id)
        membership = memberships.filter(person_id=member_id).first()
        if membership is None:
            raise NotFound("That person is not in this room.")
        if (
            membership.role == Membership.OWNER
            and role != Membership.OWNER
            and memberships.filter(role=Membership.OWNER).count() == 1
        ):
            raise Refused("A room needs an owner: make someone else an owner first.")
        membership.role = role
        membership.save(update_fields=["role"])
        return membership

    return in_transaction(write)


def member_remove(*, person: User, room_id: int, member_id: int) -> None:
    """Take a member out of a private room: it goes from their room list, and their
    sockets in it are closed. Owners are not removed (make them members first)."""
    access = owned(person, room_id)
    if not access.room.private or access.room.direct:
        raise Refused("Only members of a private room (not a direct conversation) are removed.")

    def write() -> None:
        membership = Membership.objects.filter(room_id=room_id, person_id=member_id).first()
        if membership is None:
            raise NotFound("That person is not in this room.")
        if membership.role == Membership.OWNER:
            raise Refused("An owner is not removed: make them a member first.")
        membership.delete()
        membership_ended(room_id=room_id, person_id=member_id)

    in_transaction(write)


def membership_ended(*, room_id: int, person_id: int) -> None:
    """Someone's membership was deleted (here, or by staff in the admin): once committed,
    their sockets in the room close and their other tabs drop it from their lists."""
    frame = protocol.encode(protocol.RoomLeft(room_id=room_id, reason="removed"))
    transaction.on_commit(
        lambda: realtime.notify_person(person_id, frame, leave=room_id), robust=True
    )
