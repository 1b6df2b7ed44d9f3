"""Structured logs: one line per event, each tagged with the connection it happened on.

Every socket gets a short random connection id, kept in a context variable for as long as
its task runs, so any line logged while handling it (ours, Django's or uvicorn's) says
which connection it was. Facts travel as `extra={...}` fields, never inside the text, so
that JSON lines can be searched by field; message text is never logged at INFO.
"""

from __future__ import annotations

import contextvars
import logging
import secrets

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

connection_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "connection_id", default=None
)


def new_connection_id() -> str:
    """Name the current connection in every line logged while handling it."""
    value = secrets.token_hex(6)
    connection_id.set(value)
    return value


class ConnectionIdFilter(logging.Filter):
    """Adds `conn` to each record: the connection being handled, unless the call gave one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "conn", None) is None:
            record.conn = connection_id.get()
        return True


# uvicorn adds a copy of each message with terminal colours; it is not a fact.
class SkipServerConnectionLines(logging.Filter):
    """Drops uvicorn's own per-socket lines ("[accepted]", "connection open", "connection
    closed"): the chat's "socket opened" and "socket closed" say the same, with the room,
    the person and the connection id, so each event stays one line."""

    _SKIPPED = frozenset({'%s - "WebSocket %s" [accepted]', "connection open", "connection closed"})

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "uvicorn.error" and record.msg in self._SKIPPED)


class CalmClientFaults(logging.Filter):
    """What a client's bad bytes cost the operator's log: one INFO line. uvicorn logs an
    invalid UTF-8 text frame at ERROR with a traceback (and closes the socket with 1007,
    correctly); nothing on the server went wrong."""

    _CALM = {
        "Invalid UTF-8 sequence received from client.": (
            "closed a socket that sent invalid UTF-8",
            1007,
        ),
    }

    def filter(self, record: logging.LogRecord) -> bool:
        calm = self._CALM.get(record.msg) if record.name == "uvicorn.error" else None
        if calm is not None:
            record.msg, record.code = calm
            record.args = ()
            record.levelno, record.levelname = logging.INFO, "INFO"
            record.exc_info = record.exc_text = None
        return True


_NOT_FIELDS = [*RESERVED_ATTRS, "color_message"]
_STANDARD_FIELDS = frozenset(_NOT_FIELDS) | {"conn", "message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    """For people reading a terminal: the usual line, then each field as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = [
            f"{key}={value}"
            for key, value in record.__dict__.items()
            if key not in _STANDARD_FIELDS and not key.startswith("_")
        ]
        if getattr(record, "conn", None):
            fields.insert(0, f"conn={record.conn}")
        head, _, rest = line.partition("\n")  # a traceback, if any, stays below
        return " ".join([head, *fields]) + (f"\n{rest}" if rest else "")


class JsonLogFormatter(JsonFormatter):
    """For log collectors: one JSON object per line, with fixed names for the usual keys."""

    def __init__(self, **kwargs) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s %(conn)s %(process)d",
            timestamp="time",  # ISO 8601, UTC
            reserved_attrs=_NOT_FIELDS,
            rename_fields={
                "levelname": "level",
                "name": "logger",
                "message": "event",
                "process": "pid",
            },
            **kwargs,
        )
