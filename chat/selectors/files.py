"""Files as messages carry them, and the one lookup every download goes through."""

from __future__ import annotations

from collections.abc import Iterable

from django.urls import reverse

from chat import protocol
from chat.access import Person, room_access
from chat.models import Attachment


def wire_file(attachment: Attachment) -> protocol.WireFile:
    picture = attachment.is_image  # a picture also says its size and where its thumbnail is
    return protocol.WireFile(
        key=attachment.key,
        name=attachment.name,
        type=attachment.content_type,
        size=attachment.size,
        url=reverse("chat:attachment", args=[attachment.key, attachment.name]),
        width=attachment.width if picture else None,
        height=attachment.height if picture else None,
        thumbnail_url=reverse("chat:thumbnail", args=[attachment.key]) if picture else None,
        thumbnail_width=attachment.thumbnail_width if picture else None,
        thumbnail_height=attachment.thumbnail_height if picture else None,
    )


def files_of(message_ids: Iterable[int]) -> dict[int, list[protocol.WireFile]]:
    """Each message's files in the order they were attached, in one query."""
    ids = list(message_ids)
    if not ids:
        return {}
    by_message: dict[int, list[protocol.WireFile]] = {}
    for attachment in Attachment.objects.filter(message_id__in=ids).order_by(
        "message_id", "position"
    ):
        assert attachment.message_id is not None
        by_message.setdefault(attachment.message_id, []).append(wire_file(attachment))
    return by_message


def attachment_for(person: Person, key: str) -> Attachment | None:
    """The file if this person may download it, else None (as if there were none): its
    uploader may until it is sent, then whoever may see the room (chat.access)."""
    attachment = Attachment.objects.filter(key=key).first()
    if attachment is None:
        return None
    if attachment.message_id is None:
        return (
            attachment if person.is_authenticated and person.pk == attachment.uploader_id else None
        )
    if room_access(person, attachment.room_id) is None:
        return None
    return attachment
