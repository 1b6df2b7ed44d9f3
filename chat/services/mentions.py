"""Mentions: whom a message names, kept as who (the ids the composer suggested), checked
against the room's members and the text. Someone who is not in the room, or whose
"@name" the text does not hold, stays plain text."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from chat.models import Membership, Mention, Message


def members_named(pairs: Iterable[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """The display names of those (room, person) pairs that are memberships."""
    by_room: dict[int, set[int]] = {}
    for room_id, person_id in pairs:
        by_room.setdefault(room_id, set()).add(person_id)
    names: dict[tuple[int, int], str] = {}
    for room_id, people in by_room.items():
        rows = Membership.objects.filter(room_id=room_id, person_id__in=people).select_related(
            "person"
        )
        for membership in rows:
            names[(room_id, membership.person_id)] = membership.person.name
    return names


def mentions_in(
    *,
    room_id: int,
    sender_id: int,
    text: str,
    ids: Sequence[int],
    members: dict[tuple[int, int], str],
) -> list[dict]:
    """The mentions a message keeps, in the order asked: members of the room other than
    its sender, each once, whose "@name" the text holds."""
    kept: list[dict] = []
    for person_id in dict.fromkeys(ids):
        name = members.get((room_id, person_id))
        if person_id != sender_id and name is not None and f"@{name}" in text:
            kept.append({"id": person_id, "name": name})
    return kept


def mention_rows_for(messages: Iterable[Message]) -> None:
    """Store the Mention rows of newly stored messages (their pks and numbers set)."""
    Mention.objects.bulk_create(
        Mention(room_id=message.room_id, seq=message.seq, message=message, person_id=m["id"])
        for message in messages
        for m in message.mentions
    )


def mentions_replace(message: Message, mentions: list[dict]) -> set[int]:
    """Give an edited message these mentions; returns who is newly mentioned."""
    before = {m["id"] for m in message.mentions}
    after = {m["id"] for m in mentions}
    Mention.objects.filter(message=message, person_id__in=before - after).delete()
    Mention.objects.bulk_create(
        Mention(room_id=message.room_id, seq=message.seq, message=message, person_id=person_id)
        for person_id in after - before
    )
    message.mentions = mentions
    return after - before
