"""Every write. Each is one transaction; whatever others must hear of is announced on commit."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
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


@dataclass(frozen=True)
class Post:
    room_id: int
    sender: User
    text: str
    client_id: str

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.room_id, self.sender.pk, self.client_id)


PostResult = tuple[protocol.WireMessage, bool]


def message_post(
    *, room_id: int, sender: User, text: str, client_id: str
) -> tuple[protocol.WireMessage, bool]:
    """Store `text` as the room's next message and announce it once committed.

    Returns the message and whether it is new: a resend of a `client_id` that is already
    stored returns the stored message and stores nothing.
    """
    result = messages_post_many([Post(room_id, sender, text, client_id)])[0]
    if isinstance(result, Exception):
        raise result
    return result


def messages_post_many(posts: list[Post]) -> list[PostResult | RoomNotFound]:
    """Store many posts in one transaction, each as `message_post` would, in order.

    Under load a process gathers the posts of all its sockets into one call, so many
    messages share a transaction. Each result is the stored message and whether it is
    new, or RoomNotFound for a post to a room that no longer exists.
    """
    try:
        with transaction.atomic():
            return _store_posts(posts)
    except IntegrityError:
        if len(posts) == 1:
            # The same client_id raced in through another connection and won.
            stored = _stored_by_client_id(posts)
            if posts[0].key in stored:
                return [(stored[posts[0].key], False)]
            raise
        return [messages_post_many([post])[0] for post in posts]


def _store_posts(posts: list[Post]) -> list[PostResult | RoomNotFound]:
    results: dict[tuple[int, int, str], PostResult | RoomNotFound] = {
        key: (message, False) for key, message in _stored_by_client_id(posts).items()
    }
    new_posts: dict[tuple[int, int, str], Post] = {}
    for post in posts:
        if post.key not in results:
            new_posts.setdefault(post.key, post)  # a resend within the batch is one message
    by_room: dict[int, list[Post]] = {}
    for post in new_posts.values():
        by_room.setdefault(post.room_id, []).append(post)

    now = timezone.now()
    created: list[Message] = []
    # Rooms in id order, so two transactions never wait on each other's rooms in a cycle.
    for room_id in sorted(by_room):
        room_posts = by_room[room_id]
        # The UPDATE locks the room's row until commit, so concurrent writers take
        # numbers one after another and a rolled-back write leaves no gap.
        if not Room.objects.filter(pk=room_id).update(
            last_seq=F("last_seq") + len(room_posts), last_message_at=now
        ):
            for post in room_posts:
                results[post.key] = RoomNotFound(room_id)
            continue
        last_seq = Room.objects.values_list("last_seq", flat=True).get(pk=room_id)
        first_seq = last_seq - len(room_posts) + 1
        created.extend(
            Message(
                room_id=room_id,
                seq=first_seq + offset,
                sender=post.sender,
                text=post.text,
                client_id=post.client_id,
                created_at=now,
            )
            for offset, post in enumerate(room_posts)
        )
    Message.objects.bulk_create(created)

    announcements: dict[int, list[protocol.WireMessage]] = {}
    for message in created:
        wire = message_to_wire(message)
        results[(message.room_id, message.sender_id, message.client_id)] = (wire, True)
        announcements.setdefault(message.room_id, []).append(wire)
    transaction.on_commit(lambda: _announce(announcements))
    return [results[post.key] for post in posts]


def _announce(announcements: dict[int, list[protocol.WireMessage]]) -> None:
    for room_id, messages in announcements.items():
        realtime.announce_messages(room_id, messages)


def _stored_by_client_id(posts: list[Post]) -> dict[tuple[int, int, str], protocol.WireMessage]:
    """The posts already stored, found by the (room, sender, client_id) index."""
    wanted: dict[tuple[int, int], set[str]] = {}
    for post in posts:
        wanted.setdefault((post.room_id, post.sender.pk), set()).add(post.client_id)
    condition = Q()
    for (room_id, sender_id), client_ids in wanted.items():
        condition |= Q(room_id=room_id, sender_id=sender_id, client_id__in=client_ids)
    stored = Message.objects.filter(condition).select_related("sender")
    return {(m.room_id, m.sender_id, m.client_id): message_to_wire(m) for m in stored}


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
