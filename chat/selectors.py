"""Every read. History pages and catch-up are keyset queries on the (room, seq) index, so
their cost follows the page, not the room's size."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import F

from chat import protocol
from chat.models import Message, Room


@dataclass(frozen=True)
class Page:
    messages: list[protocol.WireMessage]
    has_more: bool


MAX_ID = 2**63 - 1  # larger numbers from a URL cannot be ids, and databases refuse them


def room_get(*, room_id: int) -> Room | None:
    if not 0 < room_id <= MAX_ID:
        return None
    return Room.objects.filter(pk=room_id).first()


def room_last_seq(*, room_id: int) -> int | None:
    """The room's last sequence number, or None if there is no such room."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).first()


def rooms_recent(*, limit: int = 50) -> list[Room]:
    return list(
        Room.objects.order_by(F("last_message_at").desc(nulls_last=True), "-created_at")[:limit]
    )


def message_to_wire(message: Message) -> protocol.WireMessage:
    return protocol.WireMessage(
        seq=message.seq,
        text=message.text,
        sender=protocol.Sender(id=message.sender_id, name=message.sender.name),
        sent_at=message.created_at,
        client_id=message.client_id,
    )


def _wire(messages: Iterable[Message]) -> list[protocol.WireMessage]:
    return [message_to_wire(message) for message in messages]


def messages_before(
    *, room_id: int, before_seq: int | None = None, limit: int | None = None
) -> Page:
    """The `limit` messages just before `before_seq` (the newest when None), oldest first."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    query = Message.objects.filter(room_id=room_id).select_related("sender")
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    newest_first = list(query.order_by("-seq")[: limit + 1])
    has_more = len(newest_first) > limit
    return Page(messages=_wire(reversed(newest_first[:limit])), has_more=has_more)


def messages_after(*, room_id: int, after_seq: int, limit: int | None = None) -> Page:
    """Up to `limit` messages after `after_seq`, oldest first: what a reconnecting client missed."""
    limit = limit or settings.CHAT_CATCH_UP_MAX
    query = (
        Message.objects.filter(room_id=room_id, seq__gt=after_seq)
        .select_related("sender")
        .order_by("seq")
    )
    messages = list(query[: limit + 1])
    return Page(messages=_wire(messages[:limit]), has_more=len(messages) > limit)
