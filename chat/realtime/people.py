"""The per-person stream: hints for one person, to every socket of theirs in any process
(their read position moved in another tab, they joined a room). A hint is not numbered
and may be lost: each says the whole truth of what it is about, and a page reads its
rooms afresh whenever it reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from chat.realtime import envelope
from chat.realtime.context import fresh_context

log = logging.getLogger(__name__)

RESUBSCRIBE_FIRST_WAIT = 0.5
RESUBSCRIBE_MAX_WAIT = 10.0
GROUP_REFRESH_SECONDS = 60  # as the hub's room groups, which layers forget after a while

Deliver = Callable[[int, envelope.PersonHint], None]


def person_group(person_id: int) -> str:
    return f"person.{person_id}"


class PersonStreams:
    """This process's subscriptions to the person groups of the people it has sockets of;
    hints from other processes are handed to `deliver`."""

    def __init__(self, layer, loop: asyncio.AbstractEventLoop, origin: str, deliver: Deliver):
        self.layer = layer
        self.loop = loop
        self.origin = origin
        self.deliver = deliver
        self._subscriptions: dict[int, asyncio.Task] = {}
        self._ready: dict[int, asyncio.Future] = {}  # done once the person's hints flow
        self._channels: dict[int, str] = {}
        self._refresher: asyncio.Task | None = None
        self._sending: set[asyncio.Task] = set()

    def subscribe(self, person_id: int) -> None:
        if person_id not in self._subscriptions:
            self._ready[person_id] = self.loop.create_future()
            self._subscriptions[person_id] = self.loop.create_task(
                self._subscribe(person_id), context=fresh_context()
            )
        if self._refresher is None:
            self._refresher = self.loop.create_task(self._refresh(), context=fresh_context())

    def ready(self, person_id: int) -> asyncio.Future:
        """Done once the person's subscription receives (at once if there is none)."""
        ready = self._ready.get(person_id)
        if ready is None:
            ready = self.loop.create_future()
            ready.set_result(None)
        return ready

    def unsubscribe(self, person_id: int) -> None:
        self._ready.pop(person_id, None)
        task = self._subscriptions.pop(person_id, None)
        if task is not None:
            task.cancel()

    def send(self, person_id: int, hint: envelope.PersonHint) -> None:
        """To the person's sockets in other processes; lost if the layer fails."""

        async def send() -> None:
            with contextlib.suppress(Exception):
                await self.layer.group_send(person_group(person_id), hint.message())

        task = self.loop.create_task(send(), context=fresh_context())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def close(self) -> None:
        tasks = [*self._subscriptions.values(), *self._sending]
        if self._refresher is not None:
            tasks.append(self._refresher)
        self._subscriptions.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _subscribe(self, person_id: int) -> None:
        group = person_group(person_id)
        wait = RESUBSCRIBE_FIRST_WAIT
        while True:
            channel = await self.layer.new_channel()
            try:
                await self.layer.group_add(group, channel)
                self._channels[person_id] = channel
                ready = self._ready.get(person_id)
                if ready is not None and not ready.done():
                    ready.set_result(None)
                wait = RESUBSCRIBE_FIRST_WAIT
                while True:
                    message = envelope.read(await self.layer.receive(channel))
                    if isinstance(message, envelope.PersonHint) and message.origin != self.origin:
                        self.deliver(person_id, message)
            except asyncio.CancelledError:
                self._forget(person_id, channel)
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.layer.group_discard(group, channel))
                raise
            except Exception as exc:
                log.warning(
                    "person subscription lost; retrying",
                    extra={"person": person_id, "error": repr(exc), "retry_in_seconds": wait},
                )
                self._forget(person_id, channel)
                ready = self._ready.get(person_id)
                if ready is not None and not ready.done():
                    ready.set_result(None)  # the layer is away: the socket is served anyway
                with contextlib.suppress(Exception):  # or its messages pile up unread
                    await self.layer.group_discard(group, channel)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESUBSCRIBE_MAX_WAIT)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            for person_id, channel in list(self._channels.items()):
                with contextlib.suppress(Exception):
                    await self.layer.group_add(person_group(person_id), channel)

    def _forget(self, person_id: int, channel: str) -> None:
        if self._channels.get(person_id) == channel:
            del self._channels[person_id]
