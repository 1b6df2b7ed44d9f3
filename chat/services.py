"""Every write. Each is one transaction; whatever others must hear of is announced on commit."""

from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from chat import protocol, realtime
from chat.models import Message, Room, User, name_key
from chat.selectors import message_to_wire


class NameTaken(Exception):
    pass


class RoomNotFound(Exception):
    pass


def guest_claim(*, name: str, current_user: AbstractBaseUser | AnonymousUser) -> User:
    """The user who will be `name` in this browser: the current one, renamed if it is a
    guest, or a new guest. Raises NameTaken when someone else holds the name."""
    key = name_key(name)
    holder = User.objects.filter(username=key).first()
    if holder is not None:
        if holder.pk != current_user.pk:
            raise NameTaken(name)
        if holder.display_name != name:
            holder.display_name = name
            holder.save(update_fields=["display_name"])
        return holder
    if isinstance(current_user, User) and not current_user.has_usable_password():
        # A guest changing name keeps their account: their messages follow the new name.
        current_user.username = key
        current_user.display_name = name
        try:
            with transaction.atomic():
                current_user.save(update_fields=["username", "display_name"])
        except IntegrityError:
            raise NameTaken(name) from None
        return current_user
    guest = User(username=key, display_name=name)
    guest.set_unusable_password()
    try:
        with transaction.atomic():
            guest.save()
    except IntegrityError:
        raise NameTaken(name) from None
    return guest


def room_get_or_create(*, name: str) -> Room:
    """The room called `name`, found case-insensitively, made if it does not exist."""
    key = name_key(name)
    room = Room.objects.filter(key=key).first()
    if room is not None:
        return room
    try:
        with transaction.atomic():
            return Room.objects.create(name=name)
    except IntegrityError:  # someone made it a moment ago
        return Room.objects.get(key=key)


def message_post(
    *, room_id: int, sender: User, text: str, client_id: str
) -> tuple[protocol.WireMessage, bool]:
    """Store `text` as the room's next message and announce it once committed.

    Returns the message and whether it is new: a resend of a `client_id` that is already
    stored returns the stored message and stores nothing.
    """
    try:
        with transaction.atomic():
            stored = _message_by_client_id(room_id, sender, client_id)
            if stored is not None:
                return stored, False
            now = timezone.now()
            # The UPDATE locks the room's row until commit, so concurrent writers take
            # numbers one after another and a rolled-back write leaves no gap.
            if not Room.objects.filter(pk=room_id).update(
                last_seq=F("last_seq") + 1, last_message_at=now
            ):
                raise RoomNotFound(room_id)
            seq = Room.objects.values_list("last_seq", flat=True).get(pk=room_id)
            message = Message.objects.create(
                room_id=room_id,
                seq=seq,
                sender=sender,
                text=text,
                client_id=client_id,
                created_at=now,
            )
            wire = message_to_wire(message)
            transaction.on_commit(lambda: realtime.announce_message(room_id, wire))
            return wire, True
    except IntegrityError:
        # The same client_id raced in on another connection and won; that copy stands.
        stored = _message_by_client_id(room_id, sender, client_id)
        if stored is None:
            raise
        return stored, False


def _message_by_client_id(
    room_id: int, sender: User, client_id: str
) -> protocol.WireMessage | None:
    message = (
        Message.objects.filter(room_id=room_id, sender=sender, client_id=client_id)
        .select_related("sender")
        .first()
    )
    return None if message is None else message_to_wire(message)


def messages_import(*, room_id: int, sender: User, texts: list[str]) -> int:
    """Append many messages at once (seeding, imports), numbered on from the room's last.
    Nothing is announced: sockets that are open find them through catch-up."""
    with transaction.atomic():
        now = timezone.now()
        if not Room.objects.filter(pk=room_id).update(
            last_seq=F("last_seq") + len(texts), last_message_at=now
        ):
            raise RoomNotFound(room_id)
        last_seq = Room.objects.values_list("last_seq", flat=True).get(pk=room_id)
        first_seq = last_seq - len(texts) + 1
        Message.objects.bulk_create(
            (
                Message(
                    room_id=room_id,
                    seq=first_seq + offset,
                    sender=sender,
                    text=text,
                    client_id=f"import-{first_seq + offset}",
                    created_at=now,
                )
                for offset, text in enumerate(texts)
            ),
            batch_size=2000,
        )
    return len(texts)
