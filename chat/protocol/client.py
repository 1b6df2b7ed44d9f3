"""Decoding what a client sends: the frames are declared once, as one union, and the
decoder and the table of type names both derive from it."""

from __future__ import annotations

import typing

import emoji
import msgspec

from chat.protocol.base import Error, Frame, ProtocolError, clean_text
from chat.protocol.ephemera import Typing
from chat.protocol.messages import DeleteMessage, EditMessage, SendMessage
from chat.protocol.reactions import AddReaction, RemoveReaction
from chat.protocol.reading import NotifySet, Read
from chat.protocol.sync import Ping, Sync

__all__ = ["CLIENT_FRAMES", "ClientFrame", "decode_client_frame"]

ClientFrame = (
    SendMessage
    | EditMessage
    | DeleteMessage
    | AddReaction
    | RemoveReaction
    | Sync
    | Ping
    | Typing
    | Read
    | NotifySet
)

CLIENT_FRAMES: dict[str, type[Frame]] = {
    str(frame.__struct_config__.tag): frame for frame in typing.get_args(ClientFrame)
}

# Well-formed frames decode in one pass; only a refused one is taken apart again, to say
# precisely what is wrong with it.
_client_frame_decoder = msgspec.json.Decoder(ClientFrame)


def decode_client_frame(raw: str | bytes, *, max_bytes: int, max_chars: int) -> ClientFrame:
    """The client's frame, validated; its limits come from settings (CHAT_FRAME_MAX_BYTES,
    CHAT_MESSAGE_MAX_CHARS), which the caller passes: this package knows no Django."""
    if len(raw) > max_bytes or (isinstance(raw, str) and len(raw.encode()) > max_bytes):
        raise ProtocolError(Error.FRAME_TOO_LARGE, f"Frames are limited to {max_bytes} bytes.")
    try:
        try:
            frame = _client_frame_decoder.decode(raw)
        except msgspec.MsgspecError:
            frame = _explain_bad_frame(raw)
    except RecursionError:
        # msgspec recurses once per level of nesting; no frame of ours nests more than two.
        raise ProtocolError(
            Error.TOO_DEEPLY_NESTED, "The frame nests arrays or objects too deeply."
        ) from None
    if isinstance(frame, SendMessage) and frame.files:
        frame.text = _checked_text(frame.text, max_chars, frame.client_id, blank_allowed=True)
    elif isinstance(frame, SendMessage | EditMessage):
        frame.text = _checked_text(frame.text, max_chars, frame.client_id)
    elif isinstance(frame, AddReaction | RemoveReaction):
        frame.emoji = frame.emoji.strip()
        if not emoji.is_emoji(frame.emoji):
            raise ProtocolError(
                Error.INVALID_REACTION, "A reaction is exactly one emoji.", frame.client_id
            )
    return frame


def _checked_text(
    text: str, max_chars: int, client_id: str | None, *, blank_allowed: bool = False
) -> str:
    text = clean_text(text)
    if not text and not blank_allowed:
        raise ProtocolError(Error.BLANK_MESSAGE, "A message needs some text or a file.", client_id)
    if len(text) > max_chars:
        raise ProtocolError(
            Error.MESSAGE_TOO_LONG, f"A message is limited to {max_chars} characters.", client_id
        )
    return text


def _explain_bad_frame(raw: str | bytes) -> ClientFrame:
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError as exc:
        raise ProtocolError(Error.INVALID_JSON, f"The frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError(Error.NOT_AN_OBJECT, "A frame must be a JSON object.")
    client_id = data.get("client_id") if isinstance(data.get("client_id"), str) else None
    frame_type = data.get("type")
    frame_class = CLIENT_FRAMES.get(frame_type) if isinstance(frame_type, str) else None
    if frame_class is None:
        known = ", ".join(sorted(CLIENT_FRAMES))
        raise ProtocolError(
            Error.UNKNOWN_TYPE, f"Unknown frame type {frame_type!r}; expected one of: {known}."
        )
    try:
        return msgspec.convert(data, frame_class)  # type: ignore[return-value]
    except msgspec.ValidationError as exc:
        raise ProtocolError(Error.INVALID_FIELD, str(exc), client_id) from None
