"""This process's runtime: the room hub, the batch writer, the socket limits and the SQLite
housekeeping, made together on the server's event loop and started and stopped by the
ASGI lifespan (config/asgi.py), so that a graceful shutdown stops them in order: the hub's
subscriptions and presence entries first, then whatever the writer still has.

Everything in the process that needs one of them asks `current()`, which fails loudly when
nothing started the runtime (a server run with `--lifespan off`, say) instead of making one
on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from django.conf import settings
from django.db import connection

from chat import push, realtime
from chat.ratelimit import AsyncLimits
from chat.realtime import RoomHub
from chat.sqlite import start_checkpointer, stop_checkpointer
from chat.writer import BatchWriter

log = logging.getLogger(__name__)


class RuntimeNotStarted(RuntimeError):
    pass


class Runtime:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.hub = RoomHub(loop)
        self.writer = BatchWriter(loop)
        self.limits = AsyncLimits(loop)
        self._checkpointing: str | None = None
        self.push_sender: push.PushSender | None = None

    def start(self) -> None:
        realtime.serving = self.hub
        key = push.vapid() if settings.CHAT_PUSH_SEND else None
        if key is not None:
            self.push_sender = push.PushSender(key)
            self.push_sender.start()
        if connection.vendor == "sqlite":
            path = str(connection.settings_dict["NAME"])
            if start_checkpointer(path):
                self._checkpointing = path

    async def stop(self) -> None:
        if realtime.serving is self.hub:
            realtime.serving = None
        await self.hub.close()
        await self.writer.drain()
        if self.push_sender is not None:
            await asyncio.to_thread(self.push_sender.stop)
            self.push_sender = None
        if self._checkpointing is not None:
            stop_checkpointer(self._checkpointing)
            self._checkpointing = None


_current: Runtime | None = None


def current() -> Runtime:
    """The runtime started on the running event loop."""
    runtime = _current
    if runtime is None or runtime.loop is not asyncio.get_running_loop():
        raise RuntimeNotStarted(
            "the chat runtime is not started on this event loop: serve the app with its "
            "ASGI lifespan on (bin/serve does)"
        )
    return runtime


async def start() -> Runtime:
    global _current
    if _current is not None and _current.loop is asyncio.get_running_loop():
        return _current
    _current = Runtime(asyncio.get_running_loop())
    _current.start()
    log.info("runtime started")
    return _current


async def stop() -> None:
    global _current
    runtime, _current = _current, None
    if runtime is not None:
        await runtime.stop()
        log.info("runtime stopped")


@contextlib.asynccontextmanager
async def running() -> AsyncIterator[Runtime]:
    """Start the runtime for the duration of a block (tests, and the lifespan's shape)."""
    runtime = await start()
    try:
        yield runtime
    finally:
        await stop()


async def lifespan(scope, receive, send) -> None:
    """The ASGI lifespan protocol: start on startup, stop on shutdown."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await start()
            except Exception as error:
                log.exception("runtime failed to start")
                await send({"type": "lifespan.startup.failed", "message": repr(error)})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await stop()
            await send({"type": "lifespan.shutdown.complete"})
            return
