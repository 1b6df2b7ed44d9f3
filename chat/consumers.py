"""The room socket: authenticate, validate each frame, call a service, write the answer.

Room events do not pass through here: the process's hub (realtime.py) writes them to this
socket's LocalSocket directly. Every frame this consumer sends goes through the same
LocalSocket, so answers and events leave in order and share its bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
from functools import partial

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import InterfaceError, OperationalError

from chat import access, logs, metrics, protocol, ratelimit, realtime, runtime, selectors, services
from chat.protocol import Error, ProtocolError
from chat.writer import write_alone

log = logging.getLogger(__name__)

MAX_POSTS_IN_FLIGHT = 100
# Typing starts: one a second on average, five at once. Clients start once per message
# (and refresh every 3 s while typing), so someone sending short messages in a quick row
# is never dropped.
TYPING_EVERY_SECONDS = 1.0
TYPING_BURST = 5
# Read positions: a page reports one as the person reads, at most about once a second.
READ_EVERY_SECONDS = 1.0
READ_BURST = 3
# How long a client waits before sending again a message the database could not take.
RETRY_AFTER_FAILURE_MS = 1000

# What a post that failed in the database tells its client, and the operator's log line.
POST_FAILURES: dict[type[Exception], tuple[str, str, str]] = {
    services.NotStored: (
        Error.UNAVAILABLE,
        "post not stored: database unavailable",
        "The server could not reach its database; nothing was stored. "
        "Send it again with the same client_id.",
    ),
    services.OutcomeUnknown: (
        Error.OUTCOME_UNKNOWN,
        "post outcome unknown: connection lost in the commit",
        "The server lost its database while storing this message: it may or may not be "
        "stored. Send it again with the same client_id to find out; it is never stored twice.",
    ),
}

_room_get = database_sync_to_async(selectors.room_get)
_is_member = database_sync_to_async(selectors.is_member)
_catch_up = database_sync_to_async(selectors.catch_up)
_room_last_seq = database_sync_to_async(selectors.room_last_seq)
_read_mark = database_sync_to_async(services.read_mark)
_notify_set = database_sync_to_async(services.notify_set)
_room_ids_of = database_sync_to_async(selectors.room_ids_of)


_room_lookups: dict[int, asyncio.Task] = {}


async def _entry_refused(user, room_id: int) -> int | None:
    """Why the person may not open a socket in the room (a close code), or None. Asks the
    database as little as possible: a public room with sockets in this process is known
    (one deleted meanwhile is found out at its next post), and the sockets of a room that
    arrive together, as after a restart, share one lookup."""
    hub = runtime.current().hub
    if not (hub.has_room(room_id) and room_id in hub.known_public):
        lookup = _room_lookups.get(room_id)
        if lookup is None:
            lookup = asyncio.ensure_future(_room_get(room_id=room_id))
            _room_lookups[room_id] = lookup
            lookup.add_done_callback(lambda _: _room_lookups.pop(room_id, None))
        room = await asyncio.shield(lookup)
        if room is None:
            return protocol.CLOSE_ROOM_NOT_FOUND
        if room.private:
            hub.known_public.discard(room_id)
            member = await _is_member(person_id=user.pk, room_id=room_id)
            if not access.may_enter(user, private=True, member=member):
                return protocol.CLOSE_FORBIDDEN
            return None
        hub.known_public.add(room_id)
    return None if access.may_enter(user, private=False, member=False) else protocol.CLOSE_FORBIDDEN


async def refuse(
    consumer: AsyncWebsocketConsumer, code: int, *, retry_after_ms: int | None = None
) -> None:
    log.info("socket refused", extra={"code": code, "path": consumer.scope["path"]})
    metrics.sockets_refused.labels(str(code)).inc()
    # Accept first: a close before accepting reaches the browser as a bare failed
    # handshake, without the code that tells it why.
    await consumer.accept()
    if retry_after_ms is not None:
        await consumer.send(
            protocol.encode(
                Error(
                    code=Error.RATE_LIMITED,
                    detail="Too many new connections from your address; try again shortly.",
                    retry_after_ms=retry_after_ms,
                )
            )
        )
    await consumer.close(code=code)


class LeanConsumer(AsyncWebsocketConsumer):
    """A websocket consumer without a channel of its own and without dispatch's thread hop.

    Channels gives each consumer a layer channel (and a task waiting on it) and closes
    stale database connections in a thread before every event. Here events come from the
    hub, and all database work goes through database_sync_to_async, which closes stale
    connections itself; so each connection is one task reading its client, nothing more.
    """

    async def __call__(self, scope, receive, send) -> None:
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        logs.new_connection_id()
        try:
            while True:
                message = await receive()
                # Channels' own dispatch refuses types that would name a private method;
                # bypassing it must not lose that guard.
                handler = getattr(self, get_handler_name(message), None)
                if handler is None:
                    raise ValueError(f"No handler for message type {message['type']}")
                await handler(message)
        except StopConsumer:
            pass


class NoSuchRoomConsumer(LeanConsumer):
    async def connect(self) -> None:
        await refuse(self, protocol.CLOSE_ROOM_NOT_FOUND)


class TooManySocketsConsumer(LeanConsumer):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__()
        self.retry_after_ms = retry_after_ms

    async def connect(self) -> None:
        await refuse(self, protocol.CLOSE_TOO_MANY, retry_after_ms=self.retry_after_ms)


def client_address(scope) -> str:
    """The client's address; behind a trusted proxy, uvicorn's --proxy-headers put the
    original client's here."""
    return (scope.get("client") or ("unknown",))[0]


class SocketRateLimit:
    """Counts each new socket against its address before anything else is done for it
    (the session lookup is a database query): over the limit, it is accepted, told
    `rate_limited` with `retry_after_ms`, and closed with 4429."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        wait_ms = await runtime.current().limits.refused(
            (ratelimit.socket_per_address(), client_address(scope))
        )
        if wait_ms is None:
            return await self.app(scope, receive, send)
        return await TooManySocketsConsumer(wait_ms)(scope, receive, send)


class ChatConsumer(LeanConsumer):
    room_id = 0  # until the socket is accepted into its room (room ids start at 1)
    _socket: realtime.LocalSocket | None = None
    opened_at = 0.0
    typing_at = 0.0
    typing_allowance = 0.0
    read_at = 0.0
    read_allowance = float(READ_BURST)
    posted = rejected = 0

    async def connect(self) -> None:
        self.address = client_address(self.scope)
        user = self.scope["user"]
        if not user.is_authenticated:
            await refuse(self, protocol.CLOSE_NOT_AUTHENTICATED)
            return
        room_id = int(self.scope["url_route"]["kwargs"]["room_id"])
        refusal = await _entry_refused(user, room_id)
        if refusal is not None:
            await refuse(self, refusal)
            return
        self.user = user
        self.posts_in_flight = asyncio.Semaphore(MAX_POSTS_IN_FLIGHT)
        self._socket = realtime.LocalSocket(
            self.base_send,
            max_backlog=settings.CHAT_SOCKET_BACKLOG,
            connection_id=logs.connection_id.get(),
            person=(user.pk, user.name),
            staff=user.is_staff,
            accepted=False,
        )
        # Read before joining: a query that fails here leaves nothing of the socket behind.
        my_rooms = await _room_ids_of(person_id=user.pk)
        # Join before accepting: nothing committed after the client's sync can be missed;
        # the same for the person's other rooms (their activity, for the page's room list,
        # which it reads afresh once the socket is open) and their own stream.
        hub = runtime.current().hub
        await hub.join(room_id, self.socket)
        await hub.watch(self.socket, my_rooms)
        self.room_id = room_id
        await self.accept()
        self.socket.accepted()
        self.opened_at = time.monotonic()
        metrics.connections_open.inc()
        client = self.scope.get("client") or ("", 0)
        log.info("socket opened", extra={"room": room_id, "user": user.pk, "client": client[0]})

    async def disconnect(self, code: int) -> None:
        if self._socket is not None:
            self.socket.abandon()
            runtime.current().hub.leave(self.room_id, self.socket)
            metrics.connections_open.dec()
            log.info(
                "socket closed",
                extra={
                    "room": self.room_id,
                    "user": self.user.pk,
                    "code": code,
                    "seconds_open": round(time.monotonic() - self.opened_at, 1),
                    "messages_posted": self.posted,
                    "frames_rejected": self.rejected,
                },
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._socket is None:
            return
        client_id = None
        try:
            if text_data is None:
                raise ProtocolError(Error.BINARY_NOT_SUPPORTED, "Frames are JSON text.")
            frame = protocol.decode_client_frame(
                text_data,
                max_bytes=settings.CHAT_FRAME_MAX_BYTES,
                max_chars=settings.CHAT_MESSAGE_MAX_CHARS,
            )
            client_id = getattr(frame, "client_id", None)
            match frame:
                case protocol.SendMessage():
                    await self._post(frame)
                case protocol.EditMessage():
                    await self._change(
                        frame.client_id,
                        services.message_edit,
                        editor=self.user,
                        message_seq=frame.message_seq,
                        text=frame.text,
                        mentions=frame.mentions,
                    )
                case protocol.DeleteMessage():
                    await self._change(
                        frame.client_id,
                        services.message_delete,
                        deleter=self.user,
                        message_seq=frame.message_seq,
                    )
                case protocol.AddReaction() | protocol.RemoveReaction():
                    await self._change(
                        frame.client_id,
                        services.reaction_add
                        if isinstance(frame, protocol.AddReaction)
                        else services.reaction_remove,
                        person=self.user,
                        message_seq=frame.message_seq,
                        emoji=frame.emoji,
                    )
                case protocol.Sync():
                    await self._send_catch_up(frame)
                case protocol.Ping():
                    await self._pong()
                case protocol.Typing():
                    self._typing(frame.active)
                case protocol.Read():
                    await self._read(frame.seq)
                case protocol.NotifySet():
                    await self._notify_set(frame.level)
        except ProtocolError as error:
            self._send_error(error.code, error.detail, error.client_id)
        except (OperationalError, InterfaceError) as error:
            log.warning(
                "frame failed: database unavailable",
                extra={"room": self.room_id, "error": repr(error)},
            )
            self._send_error(
                Error.UNAVAILABLE,
                "The server could not reach its database; ask again shortly.",
                client_id,
                retry_after_ms=RETRY_AFTER_FAILURE_MS,
            )
        except Exception:
            # A fault in one frame must not end the connection.
            log.exception("frame failed", extra={"room": self.room_id, "user": self.user.pk})
            self._send_error(
                Error.INTERNAL_ERROR, "The server could not handle that frame.", client_id
            )

    @property
    def socket(self) -> realtime.LocalSocket:
        """The outgoing side, once the socket is accepted into its room."""
        assert self._socket is not None, "the socket is not in a room yet"
        return self._socket

    async def _refused_by_limits(self, client_id: str | None) -> bool:
        """Posts and changes share a person's (and an address's) message limits."""
        wait_ms = await runtime.current().limits.refused(
            (ratelimit.message_per_person(), str(self.user.pk)),
            (ratelimit.message_per_address(), self.address),
        )
        if wait_ms is not None:
            self._send_error(
                Error.RATE_LIMITED,
                "Too many messages; this was not stored, send it again shortly.",
                client_id,
                retry_after_ms=wait_ms,
            )
        return wait_ms is not None

    async def _post(self, frame: protocol.SendMessage) -> None:
        if await self._refused_by_limits(frame.client_id):
            return
        # Keep reading while the post is stored: a client's messages share batches and it
        # is acknowledged as each commits, in order. The semaphore bounds what one
        # connection can have waiting.
        await self.posts_in_flight.acquire()
        stored = runtime.current().writer.submit(
            services.Post(
                self.room_id,
                self.user,
                frame.text,
                frame.client_id,
                frame.reply_to,
                tuple(frame.mentions),
                tuple(frame.files),
            )
        )
        stored.add_done_callback(partial(self._acknowledge, frame.client_id))

    async def _change(self, client_id: str, change, **arguments) -> None:
        """An edit, a deletion or a reaction: stored (with its number, announced to the
        room on commit), then acknowledged with the message's state."""
        if await self._refused_by_limits(client_id):
            return
        try:
            message = await write_alone(change, room_id=self.room_id, **arguments)
        except services.Refused as refusal:
            self._send_error(refusal.code, refusal.detail, client_id)
            if isinstance(refusal, services.NotAMember):
                self.socket.close_soon(protocol.CLOSE_FORBIDDEN)
        except services.RoomNotFound:
            self.socket.close_soon(protocol.CLOSE_ROOM_NOT_FOUND)
        except (services.NotStored, services.OutcomeUnknown) as error:
            self._send_failure(error, client_id)
        else:
            if client_id is not None:
                self.socket.write(
                    protocol.encode(protocol.Ack(client_id=client_id, message=message))
                )

    def _acknowledge(self, client_id: str, stored: asyncio.Future) -> None:
        self.posts_in_flight.release()
        if stored.cancelled():
            return
        error = stored.exception()
        if error is None:
            message, is_new = stored.result()
            self.posted += 1
            self.socket.write(protocol.encode(protocol.Ack(client_id=client_id, message=message)))
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "message stored" if is_new else "message resent",
                    extra={"room": self.room_id, "seq": message.seq, "client_id": client_id},
                )
        elif isinstance(error, services.RoomNotFound):
            self.socket.close_soon(protocol.CLOSE_ROOM_NOT_FOUND)
        elif isinstance(error, services.Refused):
            self._send_error(error.code, error.detail, client_id)
            if isinstance(error, services.NotAMember):
                self.socket.close_soon(protocol.CLOSE_FORBIDDEN)
        elif isinstance(error, services.NotStored | services.OutcomeUnknown):
            self._send_failure(error, client_id)
        else:
            log.error(
                "post failed", extra={"room": self.room_id, "user": self.user.pk}, exc_info=error
            )
            self._send_error(
                Error.INTERNAL_ERROR,
                "The server failed while storing this message: it may or may not be "
                "stored. Sending it again with the same client_id is safe.",
                client_id,
            )

    def _send_failure(self, error: Exception, client_id: str | None) -> None:
        code, event, detail = POST_FAILURES[type(error)]
        log.warning(event, extra={"room": self.room_id, "error": repr(error.__cause__)})
        self._send_error(code, detail, client_id, retry_after_ms=RETRY_AFTER_FAILURE_MS)

    async def _send_catch_up(self, frame: protocol.Sync) -> None:
        answer = await _catch_up(
            room_id=self.room_id,
            after_seq=frame.after_seq,
            epoch=frame.epoch,
            page_max=settings.CHAT_CATCH_UP_MAX,
            resync_max=settings.CHAT_RESYNC_MAX,
        )
        if answer is None:
            self.socket.close_soon(protocol.CLOSE_ROOM_NOT_FOUND)
            return
        metrics.resumes.inc()
        if isinstance(answer, protocol.Reset):
            log.info(
                "catch-up reset",
                extra={"room": self.room_id, "after_seq": frame.after_seq, "reason": answer.reason},
            )
        else:
            metrics.resumed_events.inc(len(answer.events))
            log.info(
                "catch-up served",
                extra={
                    "room": self.room_id,
                    "after_seq": frame.after_seq,
                    "events": len(answer.events),
                    "has_more": answer.has_more,
                },
            )
        self.socket.write(protocol.encode(answer))

    def _typing(self, active: bool) -> None:
        # Starts spend a small allowance; a flood of them is dropped unanswered. A stop is
        # free: the hub relays it only for someone shown typing, so each relayed stop
        # follows a start that was paid for, and a lost stop never leaves a typist showing.
        if active:
            now = time.monotonic()
            self.typing_allowance = min(
                TYPING_BURST,
                self.typing_allowance + (now - self.typing_at) / TYPING_EVERY_SECONDS,
            )
            self.typing_at = now
            if self.typing_allowance < 1:
                return
            self.typing_allowance -= 1
        runtime.current().hub.typing(self.room_id, (self.user.pk, self.user.name), active)

    async def _read(self, seq: int) -> None:
        # As typing: a small allowance, so a page reporting as it scrolls costs the
        # database about one write a second; one dropped is overtaken by the next.
        now = time.monotonic()
        self.read_allowance = min(
            READ_BURST, self.read_allowance + (now - self.read_at) / READ_EVERY_SECONDS
        )
        self.read_at = now
        if self.read_allowance < 1:
            return
        self.read_allowance -= 1
        await _read_mark(person=self.user, room_id=self.room_id, seq=seq)

    async def _notify_set(self, level: str) -> None:
        # A write each: it draws on the person's message allowance, as changes do.
        if await self._refused_by_limits(None):
            return
        if not await _notify_set(person=self.user, room_id=self.room_id, level=level):
            raise ProtocolError(Error.NOT_FOUND, "Join the room before choosing its notifications.")

    async def _pong(self) -> None:
        # What this process has delivered is what the client can have seen; only a room
        # quiet since this process joined it needs the database.
        last_seq = runtime.current().hub.last_delivered(self.room_id)
        if last_seq is None:
            last_seq = await _room_last_seq(room_id=self.room_id) or 0
        self.socket.write(protocol.encode(protocol.Pong(last_seq=last_seq)))

    def _send_error(
        self, code: str, detail: str, client_id: str | None, *, retry_after_ms: int | None = None
    ) -> None:
        metrics.frames_rejected.labels(code).inc()
        self.rejected += 1
        log.debug("frame rejected", extra={"room": self.room_id, "code": code})
        frame = Error(code=code, detail=detail, client_id=client_id, retry_after_ms=retry_after_ms)
        self.socket.write(protocol.encode(frame))
