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
    """What a client's bad input costs the operator's log: one line, no traceback. uvicorn
    logs an invalid UTF-8 text frame at ERROR with a traceback (and closes the socket with
    1007, correctly), and Django a request for a host it does not serve; nothing on the
    server went wrong."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error" and record.msg == _INVALID_UTF8:
            record.msg, record.args, record.code = (
                "closed a socket that sent invalid UTF-8",
                (),
                1007,
            )
            self._calm(record, logging.INFO)
        elif record.name == "django.security.DisallowedHost":
            self._calm(record, logging.WARNING)
        return True

    @staticmethod
    def _calm(record: logging.LogRecord, level: int) -> None:
        record.levelno, record.levelname = level, logging.getLevelName(level)
        record.exc_info = record.exc_text = None


_INVALID_UTF8 = "Invalid UTF-8 sequence received from client."


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
        conn = getattr(record, "conn", None)
        if conn:
            fields.insert(0, f"conn={conn}")
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
