"""What travels between processes through the channel layer, declared once."""

from __future__ import annotations

import msgspec

ROOM_FRAMES = "room.frames"
ROOM_EPHEMERA = "room.ephemera"
PERSON_HINT = "person.hint"
ROOM_RESTRICTED = "room.restricted"


class RoomFrames(msgspec.Struct):
    """A room's committed events: frames numbered on from `first_seq`."""

    first_seq: int
    frames: list[str]
    committed_at: float | None = None  # for the fan-out latency metric
    repeat: bool = False  # announced before (or should have been): fill gaps only
    origin: str | None = None  # the hub that sent it, which has delivered it already

    def message(self) -> dict:
        return {"type": ROOM_FRAMES, **msgspec.structs.asdict(self)}


class RoomEphemera(msgspec.Struct):
    """Typing, or a hint that who is here changed (read it from the shared store)."""

    kind: str  # "typing" | "presence"
    origin: str
    person: tuple[int, str] | None = None
    active: bool = False

    def message(self) -> dict:
        return {"type": ROOM_EPHEMERA, **msgspec.structs.asdict(self)}


class PersonHint(msgspec.Struct):
    """A frame for every socket of one person; with `watch`, those sockets start receiving
    that room's activity (the person joined it); with `leave`, they stop, and those in that
    room are closed (the person is no longer in it)."""

    frame: str
    origin: str
    watch: int | None = None
    leave: int | None = None

    def message(self) -> dict:
        return {"type": PERSON_HINT, **msgspec.structs.asdict(self)}


class RoomRestricted(msgspec.Struct):
    """The room is private now: only its members (and staff) may stay in it."""

    members: list[int]
    origin: str

    def message(self) -> dict:
        return {"type": ROOM_RESTRICTED, **msgspec.structs.asdict(self)}


def read(message: dict) -> RoomFrames | RoomEphemera | PersonHint | RoomRestricted:
    """A layer message as its struct; what does not fit raises msgspec.ValidationError."""
    fields = {key: value for key, value in message.items() if key != "type"}
    if message.get("type") == ROOM_RESTRICTED:
        return msgspec.convert(fields, RoomRestricted)
    if message.get("type") == ROOM_EPHEMERA:
        return msgspec.convert(fields, RoomEphemera)
    if message.get("type") == PERSON_HINT:
        return msgspec.convert(fields, PersonHint)
    return msgspec.convert(fields, RoomFrames)
