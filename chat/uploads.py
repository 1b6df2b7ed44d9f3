"""What an uploaded file is: its safe name, its type as read from its content, and for a
picture its size, a metadata-free copy and a thumbnail. Plain Python (Pillow, filetype):
no Django.

A file's name says what its uploader calls it, never what it is: the type shown and sent
comes from the bytes. A name claiming a type whose bytes would say so ("photo.jpg" that
is HTML) gets the neutral `application/octet-stream`. Only PNG, JPEG, GIF and WebP that
Pillow decodes within the pixel limit are pictures; everything else (SVG included) is a
file to download.
"""

from __future__ import annotations

import io
import mimetypes
import re
import unicodedata
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["NAME_MAX_CHARS", "Picture", "TooManyPixels", "content_type", "picture", "safe_name"]

NAME_MAX_CHARS = 200
NEUTRAL_TYPE = "application/octet-stream"

# Formats shown inline, and what their metadata-free copy is saved as.
_PICTURE_FORMATS = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}
_UNSAFE_IN_NAMES = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


class TooManyPixels(Exception):
    def __init__(self, pixels: int, limit: int):
        super().__init__(f"{pixels} pixels, over the limit of {limit}")
        self.pixels, self.limit = pixels, limit


def safe_name(name: str) -> str:
    """The uploaded name as a file name every system takes: no folders, no control or
    reserved characters, at most NAME_MAX_CHARS (the extension kept), never empty."""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    name = _UNSAFE_IN_NAMES.sub("_", name).strip(" .")
    if len(name) > NAME_MAX_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: NAME_MAX_CHARS - len(extension) - 1].rstrip(" .") + "." + extension
        else:
            name = name[:NAME_MAX_CHARS]
    return name or "file"


def content_type(head: bytes, name: str) -> str:
    """The file's type from its first bytes; else what its name says, unless the name
    claims a type the bytes would have shown (then the neutral type)."""
    found = filetype.guess(head)
    if found is not None:
        return str(found.mime)
    claimed, _ = mimetypes.guess_type(name, strict=False)
    if claimed is None or filetype.get_type(mime=claimed) is not None:
        return NEUTRAL_TYPE
    return claimed


@dataclass(frozen=True, slots=True)
class Picture:
    content_type: str
    width: int
    height: int
    # The picture again without its metadata (EXIF: where and when, the camera), turned
    # the way its EXIF said; None when the upload is kept as it came (an animation, or a
    # PNG with nothing but pixels).
    cleaned: bytes | None
    thumbnail: bytes  # WebP
    thumbnail_width: int
    thumbnail_height: int


def picture(file: BinaryIO, *, max_pixels: int, thumbnail_px: int) -> Picture | None:
    """The file as a picture, or None if it is not one of the inline formats. Raises
    TooManyPixels before decoding an image larger than `max_pixels`."""
    file.seek(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, past its own limit; ours is checked first, below.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file)
            image_format = image.format or ""
            if image_format not in _PICTURE_FORMATS:
                return None
            width, height = image.size
            if width * height > max_pixels:
                raise TooManyPixels(width * height, max_pixels)
            frames = getattr(image, "n_frames", 1)
            if frames * width * height > max_pixels * 4:
                raise TooManyPixels(frames * width * height, max_pixels * 4)
            image.load()
            upright = ImageOps.exif_transpose(image)  # a copy: one picture's pixels twice
            del image  # ...only while turning it, not while encoding (close() would close
            # the upload too, which an animation is then stored from)
            keep_as_is = frames > 1 or (image_format == "PNG" and not _carries_metadata(upright))
            cleaned = None if keep_as_is else _without_metadata(upright, image_format)
            small = _shrunk(upright, thumbnail_px)
            thumbnail = _encoded(small, "WEBP", quality=80)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise TooManyPixels(0, max_pixels) from bomb
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        return None  # not a picture Pillow can read: a file like any other
    width, height = upright.size
    return Picture(
        content_type=_PICTURE_FORMATS[image_format],
        width=width,
        height=height,
        cleaned=cleaned,
        thumbnail=thumbnail,
        thumbnail_width=small.width,
        thumbnail_height=small.height,
    )


# What a PNG's chunks may say that tells nothing about who took it, where or with what.
_HARMLESS_PNG_INFO = {"dpi", "gamma", "transparency", "srgb", "aspect", "chromaticity"}


def _carries_metadata(image: Image.Image) -> bool:
    """Whether a PNG holds more than its pixels need (EXIF, XMP, text, an ICC profile):
    one that does not is kept byte for byte, sparing a slow re-encoding."""
    return bool(set(image.info) - _HARMLESS_PNG_INFO)


def _without_metadata(image: Image.Image, image_format: str) -> bytes:
    # Saved from the pixels alone: no EXIF, XMP, ICC profile or text chunks go along.
    image.info = {k: v for k, v in image.info.items() if k == "transparency"}
    if image_format == "JPEG":
        rgb = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
        return _encoded(rgb, "JPEG", quality=92)
    if image_format == "WEBP":
        return _encoded(image, "WEBP", quality=90)
    # Level 3: a third of the default's time, for a few percent more bytes.
    return _encoded(image, image_format, **({"compress_level": 3} if image_format == "PNG" else {}))


def _shrunk(image: Image.Image, longest_px: int) -> Image.Image:
    """At most `longest_px` on its longer side, never enlarged (made at its small size, not
    as a full-size copy first)."""
    scale = longest_px / max(image.size)
    if scale >= 1:
        return image.copy()
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    if image_format == "WEBP" and image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode or image.mode == "P" else "RGB")
    out = io.BytesIO()
    image.save(out, format=image_format, **options)
    return out.getvalue()
