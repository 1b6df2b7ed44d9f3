"""Files on the wire: what a message carries of each file it was sent with. The file itself
is uploaded over HTTP first (POST /r/<room>/files, answered with a `WireFile`), and the
message names it by `key`."""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["FILES_PER_MESSAGE_MAX", "FileKey", "FileKeys", "WireFile"]

FILES_PER_MESSAGE_MAX = 10
FileKey = Annotated[str, msgspec.Meta(min_length=1, max_length=32, pattern=r"\A[A-Za-z0-9_-]+\Z")]
FileKeys = Annotated[list[FileKey], msgspec.Meta(max_length=FILES_PER_MESSAGE_MAX)]


class WireFile(msgspec.Struct, omit_defaults=True):
    """One file: its name as uploaded (made safe), its type as read from its content, its
    size in bytes and where to download it. A picture also has its size in pixels and a
    thumbnail (WebP, at most CHAT_THUMBNAIL_MAX_PX on its longer side)."""

    key: str
    name: str
    type: str
    size: int
    url: str
    width: int | None = None
    height: int | None = None
    thumbnail_url: str | None = None
    thumbnail_width: int | None = None
    thumbnail_height: int | None = None
