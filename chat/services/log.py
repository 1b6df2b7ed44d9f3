"""The room log's shared machinery for every write: the failures a write can end in, one
number from the room's counter, and a transaction whose database failures say truthfully
whether anything was stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)

from chat import protocol, realtime
from chat.models import Message, Room, RoomEvent

T = TypeVar("T")


class RoomNotFound(Exception):
    pass


class NotStored(Exception):
    """The database could not be reached or failed before anything was committed: nothing
    of the write is stored, and trying again later (with the same client ids) is safe."""


class OutcomeUnknown(Exception):
    """The connection failed while committing: the database may have committed before it
    went, or not. Only sending again under the same client ids finds out, and stores
    nothing twice."""


class Refused(Exception):
    """A change that may not be made; nothing is stored. `code` is the error frame's."""

    code = "refused"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class NotFound(Refused):
    code = "not_found"


class Forbidden(Refused):
    code = "forbidden"


class NotAMember(Forbidden):
    """A change in a private room by someone not in it (any more): their socket closes."""


class Gone(Refused):
    code = "gone"


def in_transaction(write: Callable[[], T]) -> T:
    """Run `write` in one transaction. A lost or refused connection before the COMMIT
    raises NotStored; any database failure in the COMMIT raises OutcomeUnknown."""
    committing = False
    try:
        with transaction.atomic():
            result = write()
            committing = True  # what fails from here on fails in the COMMIT
        return result
    except DatabaseError as error:
        if committing:
            raise OutcomeUnknown from error
        if isinstance(error, OperationalError | InterfaceError):
            raise NotStored from error
        raise


def lock_room(room_id: int) -> None:
    """Hold the room's row until the transaction ends: its messages change one writer at a
    time, and a number taken after this is the highest the room has seen. (SQLite's
    immediate transactions already serialise writers.)"""
    if not Room.objects.select_for_update().filter(pk=room_id).exists():
        raise RoomNotFound(room_id)


def take_number(room_id: int) -> int:
    """The room's next number, in the calling transaction (a rollback leaves no gap)."""
    table = Room._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq",
            [room_id],
        )
        row = cursor.fetchone()
    if row is None:
        raise RoomNotFound(room_id)
    return row[0]


def record_change(
    message: Message, seq: int, kind: str, frame: protocol.Frame, payload: dict | None = None
) -> None:
    """Store a change to `message` as the room's event `seq`, and announce `frame` on
    commit (robust: a failing announcement is logged and must not make it look failed)."""
    record_event(message.room_id, seq, kind, frame, message=message, payload=payload)


def record_event(
    room_id: int,
    seq: int,
    kind: str,
    frame: protocol.Frame,
    *,
    message: Message | None = None,
    payload: dict | None = None,
) -> None:
    """Store the room's event `seq` (about `message`, or the room itself) and announce
    `frame` on commit."""
    RoomEvent.objects.create(
        room_id=room_id, seq=seq, kind=kind, message=message, payload=payload or {}
    )
    text = protocol.encode(frame)
    transaction.on_commit(lambda: realtime.announce(room_id, seq, [text]), robust=True)
