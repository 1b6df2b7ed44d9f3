"""The context the realtime layer's own tasks and callbacks run in."""

from __future__ import annotations

import contextvars


def fresh_context() -> contextvars.Context:
    """An empty context for the hub's own tasks and callbacks. Inheriting the caller's would
    carry a database thread's marks (asgiref then refuses the hub's own database reads as
    "would deadlock") or one connection's id into every later log line."""
    return contextvars.Context()
