"""The outgoing side of one client's socket, written to without waiting."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

CLOSE_TRY_AGAIN = 1013  # "try again later": the client reconnects and catches up

AsgiSend = Callable[[dict], Coroutine[Any, Any, None]]
Person = tuple[int, str]  # id and display name


def step_eagerly(coroutine: Coroutine[Any, Any, None]) -> Awaitable[None] | None:
    """Run `coroutine` until it first has to wait, as Python 3.12's eager tasks do: None if
    it finished in that step; otherwise an awaitable that drives it on to its end exactly
    as a task would. What the first step raises is raised here."""
    try:
        waiting_on = coroutine.send(None)
    except StopIteration:
        return None
    except BaseException:
        coroutine.close()
        raise
    return _finish(coroutine, waiting_on)


async def _finish(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Drive to its end a coroutine whose first step was taken by hand, as a task would."""
    try:
        while True:
            if waiting_on is None:  # a bare yield: just let the loop run once
                await asyncio.sleep(0)
            else:
                # Take the future over as a task does on receiving it, then wait for it.
                waiting_on._asyncio_future_blocking = False
                await waiting_on
            waiting_on = coroutine.send(None)
    except StopIteration:
        pass
    finally:
        coroutine.close()


class LocalSocket:
    """The outgoing side of one client's socket.

    `write` never waits: while the client keeps up, a frame goes straight to the server's
    transport (the ASGI send finishes without suspending). Once the client stops reading,
    the send that would wait finishes in a task of its own and later frames queue behind
    it, up to `max_backlog`; past that the socket is closed with 1013, so a slow reader
    costs neither time nor unbounded memory, and it catches up from the database later.
    """

    __slots__ = (
        "_backlog",
        "_closer",
        "_flusher",
        "_send",
        "closed",
        "connection_id",
        "max_backlog",
        "person",
        "room_id",
        "staff",
        "watching",
    )

    def __init__(
        self,
        send: AsgiSend,
        *,
        max_backlog: int,
        connection_id: str | None = None,
        person: Person | None = None,
        staff: bool = False,
        accepted: bool = True,
    ):
        self._send = send
        self.max_backlog = max_backlog
        self.connection_id = connection_id  # for logs: writes happen outside its task
        self.person = person  # whose socket it is, for who is here
        self.staff = staff  # stays in a room made private without them
        self.room_id: int | None = None  # the room it is in, once the hub has it
        self.watching: set[int] = set()  # the person's other rooms, whose activity it gets
        # None while the client keeps up. Until the handshake is accepted, frames wait here
        # (ASGI allows no frame before the accept).
        self._backlog: deque[str] | None = None if accepted else deque()
        self._flusher: asyncio.Task | None = None
        self._closer: asyncio.Task | None = None
        self.closed = False

    def write(self, text: str) -> None:
        if self.closed:
            return
        if self._backlog is not None:
            if len(self._backlog) >= self.max_backlog:
                self._give_up()
            else:
                self._backlog.append(text)
            return
        try:
            rest = step_eagerly(self._send({"type": "websocket.send", "text": text}))
        except Exception:  # the client has gone; its consumer is being torn down
            self.closed = True
            return
        if rest is None:
            return  # sent: a client that keeps up never makes a send wait
        self._backlog = deque()
        self._flusher = asyncio.get_running_loop().create_task(self._flush(rest))

    def accepted(self) -> None:
        """The handshake is accepted: send what waited for it, then write as usual."""
        if self._backlog is None or self._flusher is not None or self.closed:
            return
        if not self._backlog:
            self._backlog = None
            return
        self._flusher = asyncio.get_running_loop().create_task(
            self._flush(self._send({"type": "websocket.send", "text": self._backlog.popleft()}))
        )

    def close_soon(self, code: int) -> None:
        """Close after the frame already on its way; queued and later frames are dropped."""
        if self.closed:
            return
        self.closed = True
        if self._backlog is not None:
            self._backlog.clear()
        self._closer = asyncio.get_running_loop().create_task(self._close(code))

    async def _close(self, code: int) -> None:
        try:
            if self._flusher is not None:
                await self._flusher
            await self._send({"type": "websocket.close", "code": code})
        except Exception:
            pass  # the client has gone already

    def abandon(self) -> None:
        """The client has gone: drop whatever is queued for it."""
        self.closed = True
        if self._backlog is not None:
            self._backlog.clear()
        if self._flusher is not None:
            self._flusher.cancel()

    async def _flush(self, in_flight: Awaitable[None]) -> None:
        try:
            await in_flight
            while self._backlog:
                await self._send({"type": "websocket.send", "text": self._backlog.popleft()})
        except asyncio.CancelledError:
            raise
        except Exception:
            self.closed = True
        finally:
            self._backlog = None
            self._flusher = None

    def _give_up(self) -> None:
        log.info(
            "closing a socket whose client stopped reading",
            extra={"conn": self.connection_id, "backlog": self.max_backlog},
        )
        self.close_soon(CLOSE_TRY_AGAIN)
