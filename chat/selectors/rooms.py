"""Reads about rooms."""

from __future__ import annotations

from django.db.models import F

from chat.models import Room

MAX_ID = 2**63 - 1  # larger numbers from a URL cannot be ids, and databases refuse them


def room_get(*, room_id: int) -> Room | None:
    if not 0 < room_id <= MAX_ID:
        return None
    return Room.objects.filter(pk=room_id).first()


def room_last_seq(*, room_id: int) -> int | None:
    """The room's last number, or None if there is no such room."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", flat=True).first()


def room_position(*, room_id: int) -> tuple[int, str] | None:
    """The room's last number and its epoch, or None if there is no such room."""
    return Room.objects.filter(pk=room_id).values_list("last_seq", "epoch").first()


def rooms_recent(*, limit: int = 50) -> list[Room]:
    return list(
        Room.objects.order_by(F("last_message_at").desc(nulls_last=True), "-created_at")[:limit]
    )
