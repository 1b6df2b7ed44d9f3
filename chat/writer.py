"""Gathers the posts of every socket in this process into shared transactions.

While one batch is being written, new posts wait for the next, so under load many
messages share one transaction (one thread hop, one commit), and at rest a post is
written at once, alone. Each post is acknowledged only after its own batch commits.

Posts are written in a thread of their own, not the one that serves every other database
call of the sockets (logins, room lookups, catch-up reads): when hundreds of clients
reconnect at once, their reads queue there, and live posts no longer wait behind them
(before, a post's acknowledgement waited 2.4-2.8 s during a 300-socket reconnect).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async

from chat import services
from chat.realtime import fresh_context

MAX_BATCH = 200

# One thread: batches are written one after another, in the order they were gathered.
_write_lane = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chat-writer")
_post_many = database_sync_to_async(
    services.messages_post_many, thread_sensitive=False, executor=_write_lane
)


def write_alone(write, /, **kwargs):
    """Run one write that is not a post (an edit, a reaction) in the posts' thread, so
    that a person's changes are stored in the order they were sent."""
    return database_sync_to_async(write, thread_sensitive=False, executor=_write_lane)(**kwargs)


class BatchWriter:
    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._waiting: list[tuple[services.Post, asyncio.Future]] = []
        self._task: asyncio.Task | None = None

    def submit(self, post: services.Post) -> asyncio.Future:
        """Queue `post` for the next batch (see services.message_post). The future's result
        is the stored message and whether it is new; its exception is RoomNotFound,
        NotStored or OutcomeUnknown (see services)."""
        done = self.loop.create_future()
        self._waiting.append((post, done))
        if self._task is None:
            self._task = self.loop.create_task(self._write_waiting(), context=fresh_context())
        return done

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                try:
                    results = await _post_many([post for post, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    if done.done():  # its socket has gone meanwhile
                        continue
                    if isinstance(result, Exception):
                        done.set_exception(result)
                    else:
                        done.set_result(result)
        finally:
            self._task = None

    async def drain(self) -> None:
        """Wait until what was submitted is written (at shutdown)."""
        while self._task is not None:
            await asyncio.shield(self._task)
