"""The WebSocket wire schema: one class per frame, validation, encoding. No Django here.

Every frame is a JSON object whose "type" says what it is; docs/protocol.md shows each
with an example. Decoding raises `ProtocolError` with a machine-readable code, which the
consumer sends back as an error frame; the connection carries on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar

import msgspec

MESSAGE_MAX_CHARS = 4000
FRAME_MAX_BYTES = 64 * 1024

# \A and \Z, not ^ and $: Python's $ also matches before a final newline ("abc\n").
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"\A[A-Za-z0-9_-]+\Z")]
Seq = Annotated[int, msgspec.Meta(ge=0)]


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str, client_id: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


class Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    pass


# Frames a client sends.


class SendMessage(Frame, tag="message.send"):
    """Post `text` to the room. `client_id` is unique per message: a resend is answered
    with the stored message instead of storing a second copy."""

    client_id: ClientId
    text: str


class Sync(Frame, tag="sync"):
    """Ask for the room's messages with sequence numbers above `after_seq`, oldest first."""

    after_seq: Seq


CLIENT_FRAMES: dict[str, type[Frame]] = {"message.send": SendMessage, "sync": Sync}


# Frames the server sends.


class Sender(msgspec.Struct):
    id: int
    name: str


class WireMessage(msgspec.Struct):
    seq: int
    text: str
    sender: Sender
    sent_at: datetime
    client_id: str


class MessageEvent(Frame, tag="message"):
    """A message was stored in the room; sent to every socket in it, the sender's included."""

    message: WireMessage


class Ack(Frame, tag="ack"):
    """The message with this `client_id` is stored, as `message`."""

    client_id: str
    message: WireMessage


class SyncResult(Frame, tag="sync.result"):
    """An answer to `sync`: messages in order; `has_more` asks for another `sync`."""

    messages: list[WireMessage]
    has_more: bool


class Error(Frame, tag="error"):
    """A frame was refused or failed. `client_id` names the message if known. Whether the
    message was stored, and whether to send it again, follows from the code (each is
    listed in docs/protocol.md): refusals and `unavailable` stored nothing;
    `outcome_unknown` and `internal_error` may have; all but refusals are sent again under
    the same `client_id`, which never stores a message twice."""

    code: str
    detail: str
    client_id: str | None = None
    retry_after_ms: int | None = None

    INVALID_JSON: ClassVar[str] = "invalid_json"
    TOO_DEEPLY_NESTED: ClassVar[str] = "too_deeply_nested"
    NOT_AN_OBJECT: ClassVar[str] = "not_an_object"
    UNKNOWN_TYPE: ClassVar[str] = "unknown_type"
    INVALID_FIELD: ClassVar[str] = "invalid_field"
    BLANK_MESSAGE: ClassVar[str] = "blank_message"
    MESSAGE_TOO_LONG: ClassVar[str] = "message_too_long"
    FRAME_TOO_LARGE: ClassVar[str] = "frame_too_large"
    BINARY_NOT_SUPPORTED: ClassVar[str] = "binary_not_supported"
    RATE_LIMITED: ClassVar[str] = "rate_limited"
    UNAVAILABLE: ClassVar[str] = "unavailable"
    OUTCOME_UNKNOWN: ClassVar[str] = "outcome_unknown"
    INTERNAL_ERROR: ClassVar[str] = "internal_error"


# Close codes for a refused socket (the handshake is accepted so the browser can read them).
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_ROOM_NOT_FOUND = 4404
# Too many new sockets from one address: an `error` frame with `retry_after_ms` comes first.
CLOSE_TOO_MANY = 4429


_encoder = msgspec.json.Encoder()


def encode(frame: Frame) -> str:
    return _encoder.encode(frame).decode()


def decode_client_frame(
    raw: str | bytes,
    *,
    max_bytes: int = FRAME_MAX_BYTES,
    max_chars: int = MESSAGE_MAX_CHARS,
) -> SendMessage | Sync:
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
    if isinstance(frame, SendMessage):
        frame.text = _clean_text(frame.text)
        if not frame.text:
            raise ProtocolError(Error.BLANK_MESSAGE, "A message needs some text.", frame.client_id)
        if len(frame.text) > max_chars:
            raise ProtocolError(
                Error.MESSAGE_TOO_LONG,
                f"A message is limited to {max_chars} characters.",
                frame.client_id,
            )
    return frame


# Well-formed frames decode in one pass; only a refused one is taken apart again, to say
# precisely what is wrong with it.
_client_frame_decoder = msgspec.json.Decoder(SendMessage | Sync)


def _explain_bad_frame(raw: str | bytes) -> SendMessage | Sync:
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


def _clean_text(text: str) -> str:
    # NUL cannot be stored (PostgreSQL refuses it), and lone surrogates cannot be encoded.
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text.strip()


# The history endpoint's answer (HTTP, not a socket frame): GET /r/<room>/messages?before=SEQ


class HistoryPage(msgspec.Struct):
    messages: list[WireMessage]
    has_more: bool


def encode_json(value: msgspec.Struct) -> bytes:
    return _encoder.encode(value)
