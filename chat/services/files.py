"""Uploading files to a room, and what becomes of them: a message takes them when it is
stored (chat.services.messages), and deleting the message deletes them.

The bytes go to the `files` storage (the disk under var/, or S3 through django-storages)
before the row that names them is committed; a row is deleted before its bytes (on
commit), so no row ever names missing bytes. Bytes whose row never committed are the only
leftovers, and cost disk, not correctness.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from chat import uploads
from chat.models import Attachment, Message, User, stored_files
from chat.services.log import Refused

log = logging.getLogger(__name__)

HEAD_BYTES = 8192  # enough for every signature the type is read from


class FileTooLarge(Refused):
    code = "file_too_large"


class ImageTooLarge(Refused):
    code = "image_too_large"


class UploadsLimited(Refused):
    """Over the hourly limits. `retry_after_ms`: when the oldest upload of the hour ages out."""

    code = "rate_limited"

    def __init__(self, detail: str, retry_after_ms: int):
        super().__init__(detail)
        self.retry_after_ms = retry_after_ms


# An upload is three steps, run apart by the upload view: the check and the row use the
# database thread every sync call shares; the slow middle step, which touches no database,
# runs in a lane of its own. The caller has checked that the uploader may write in the room.


def file_upload_allowed(*, uploader: User, size: int) -> None:
    """Whether a file of `size` bytes may be uploaded by this person now: raises
    FileTooLarge or UploadsLimited. Their own expired unsent uploads go meanwhile."""
    limit = settings.CHAT_FILE_MAX_BYTES
    if size > limit:
        raise FileTooLarge(
            f"A file is limited to {_megabytes(limit)}; this one is {_megabytes(size)}."
        )
    _check_hourly_limits(uploader, size)
    _forget_unsent(uploader)


def bytes_stored(upload: UploadedFile) -> Attachment:
    """Read the upload (its type from its bytes; a picture re-saved without metadata, with
    a thumbnail) and put its bytes in the files' storage. No database: the answer is the
    file's row, unsaved, for `file_recorded`. Raises ImageTooLarge, storing nothing."""
    name = uploads.safe_name(upload.name or "")
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    try:
        picture = uploads.picture(
            upload,  # type: ignore[arg-type]  # an UploadedFile reads and seeks as a file
            max_pixels=settings.CHAT_IMAGE_MAX_PIXELS,
            thumbnail_px=settings.CHAT_THUMBNAIL_MAX_PX,
        )
    except uploads.TooManyPixels as error:
        raise ImageTooLarge(
            f"Pictures are limited to {settings.CHAT_IMAGE_MAX_PIXELS:,} pixels"
            + (f"; this one has {error.pixels:,}." if error.pixels else ".")
        ) from None

    attachment = Attachment(name=name, size=upload.size or 0)
    storage = stored_files()
    # Under a folder of their key's first letters: no directory grows to millions.
    path = f"{attachment.key[:2]}/{attachment.key}"
    saved: list[str] = []
    try:
        if picture is None:
            attachment.content_type = uploads.content_type(head, name)
            upload.seek(0)
            saved.append(storage.save(path, upload))
        else:
            attachment.content_type = picture.content_type
            if picture.cleaned is None:
                upload.seek(0)
                saved.append(storage.save(path, upload))
            else:
                saved.append(storage.save(path, ContentFile(picture.cleaned)))
                attachment.size = len(picture.cleaned)
            saved.append(storage.save(f"{path}.thumb.webp", ContentFile(picture.thumbnail)))
            attachment.thumbnail.name = saved[1]
            attachment.width, attachment.height = picture.width, picture.height
            attachment.thumbnail_width = picture.thumbnail_width
            attachment.thumbnail_height = picture.thumbnail_height
        attachment.file.name = saved[0]
    except BaseException:
        for stored in saved:
            storage.delete(stored)
        raise
    return attachment


def file_recorded(attachment: Attachment, *, room_id: int, uploader: User) -> Attachment:
    """Save the row of bytes already stored (`bytes_stored`); if it cannot be saved, the
    bytes are deleted."""
    attachment.room_id, attachment.uploader = room_id, uploader
    try:
        attachment.save()
    except BaseException:
        storage = stored_files()
        for name in (attachment.file.name, attachment.thumbnail.name):
            if name:
                storage.delete(name)
        raise
    return attachment


def files_delete_of(message: Message) -> None:
    """Delete the message's files (it is being deleted): rows now, bytes on commit."""
    Attachment.objects.filter(message=message).delete()


def forget_bytes(attachment: Attachment) -> None:
    """Once the row's deletion is committed, delete its bytes (on any path that deletes
    rows: a message deleted, its room or uploader deleted, an unsent upload expired)."""
    names = [name for name in (attachment.file.name, attachment.thumbnail.name) if name]

    def delete() -> None:
        storage = stored_files()
        for name in names:
            try:
                storage.delete(name)
            except Exception:
                log.exception("files: could not delete stored bytes", extra={"name": name})

    transaction.on_commit(delete, robust=True)


def files_prune_unsent(older_than: timedelta | None = None) -> int:
    """Delete the uploads no message took within CHAT_UPLOAD_UNSENT_HOURS; how many."""
    if older_than is None:
        older_than = timedelta(hours=settings.CHAT_UPLOAD_UNSENT_HOURS)
    unsent = Attachment.objects.filter(
        message__isnull=True, created_at__lt=timezone.now() - older_than
    )
    with transaction.atomic():
        deleted, _ = unsent.delete()
    return deleted


def _forget_unsent(uploader: User) -> None:
    """An uploader's own expired uploads go as they upload again (cron may run
    `manage.py files_prune` for everyone)."""
    cutoff = timezone.now() - timedelta(hours=settings.CHAT_UPLOAD_UNSENT_HOURS)
    stale = Attachment.objects.filter(
        uploader=uploader, message__isnull=True, created_at__lt=cutoff
    )
    if stale.exists():
        with transaction.atomic():
            stale.delete()


def _check_hourly_limits(uploader: User, size: int) -> None:
    since = timezone.now() - timedelta(hours=1)
    recent = Attachment.objects.filter(uploader=uploader, created_at__gte=since)
    totals = recent.aggregate(count=Count("id"), bytes=Sum("size"))
    count, total = totals["count"] or 0, totals["bytes"] or 0
    if (
        count < settings.CHAT_UPLOADS_PER_HOUR
        and total + size <= settings.CHAT_UPLOAD_BYTES_PER_HOUR
    ):
        return
    oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
    wait = (oldest + timedelta(hours=1) - timezone.now()) if oldest else timedelta(hours=1)
    raise UploadsLimited(
        f"You can upload {settings.CHAT_UPLOADS_PER_HOUR} files or "
        f"{_megabytes(settings.CHAT_UPLOAD_BYTES_PER_HOUR)} an hour; "
        "this file was not stored, try again later.",
        retry_after_ms=max(1000, int(wait.total_seconds() * 1000)),
    )


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"
