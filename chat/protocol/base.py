"""What every frame shares: the base struct, error codes, close codes, text rules, encoding."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

__all__ = [
    "CLOSE_FORBIDDEN",
    "CLOSE_NOT_AUTHENTICATED",
    "CLOSE_ROOM_NOT_FOUND",
    "CLOSE_TOO_MANY",
    "ClientId",
    "Error",
    "Frame",
    "ProtocolError",
    "Seq",
    "clean_text",
    "encode",
    "encode_json",
]

# \A and \Z, not ^ and $: Python's $ also matches before a final newline ("abc\n").
ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"\A[A-Za-z0-9_-]+\Z")]
# A number databases can hold (a larger one would fail the query it reaches, not the frame).
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str, client_id: str | None = None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.client_id = client_id


class Frame(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    pass


class Error(Frame, tag="error"):
    """A frame was refused or failed. `client_id` names the message (or the action) if
    known. Whether anything was stored, and whether to send it again, follows from the
    code (each is listed in docs/protocol.md): refusals and `unavailable` stored nothing;
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
    INVALID_REACTION: ClassVar[str] = "invalid_reaction"
    FRAME_TOO_LARGE: ClassVar[str] = "frame_too_large"
    BINARY_NOT_SUPPORTED: ClassVar[str] = "binary_not_supported"
    NOT_FOUND: ClassVar[str] = "not_found"
    FORBIDDEN: ClassVar[str] = "forbidden"
    GONE: ClassVar[str] = "gone"
    RATE_LIMITED: ClassVar[str] = "rate_limited"
    UNAVAILABLE: ClassVar[str] = "unavailable"
    OUTCOME_UNKNOWN: ClassVar[str] = "outcome_unknown"
    INTERNAL_ERROR: ClassVar[str] = "internal_error"


# Close codes for a refused socket (the handshake is accepted so the browser can read them).
CLOSE_NOT_AUTHENTICATED = 4401
# A private room the person is not a member of (or no longer is).
CLOSE_FORBIDDEN = 4403
CLOSE_ROOM_NOT_FOUND = 4404
# Too many new sockets from one address: an `error` frame with `retry_after_ms` comes first.
CLOSE_TOO_MANY = 4429


_encoder = msgspec.json.Encoder()


def encode(frame: msgspec.Struct) -> str:
    return _encoder.encode(frame).decode()


def encode_json(value: object) -> bytes:
    return _encoder.encode(value)


def clean_text(text: str) -> str:
    # NUL cannot be stored (PostgreSQL refuses it), and lone surrogates cannot be encoded.
    text = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return text.strip()
