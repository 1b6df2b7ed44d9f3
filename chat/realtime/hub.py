"""The hub: this process's sockets by room, one layer subscription per room, and the
room's ephemera (typing, who is here). It knows an event only by its room and number."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import msgspec
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.conf import settings

from chat import metrics, protocol, selectors
from chat.realtime import envelope
from chat.realtime.context import fresh_context
from chat.realtime.order import RoomOrder
from chat.realtime.people import PersonStreams
from chat.realtime.presence import PRESENCE_RENEW_SECONDS, SharedPresence, people_once
from chat.realtime.sockets import CLOSE_TRY_AGAIN, LocalSocket, Person

log = logging.getLogger(__name__)

# A typing person is shown this long after their last update; updates come every 3 s,
# and a person's update is relayed at most once per TYPING_REFRESH_SECONDS.
TYPING_SECONDS = 6.0
TYPING_REFRESH_SECONDS = 2.5
# How long a new socket waits for its person's stream and other rooms to flow here before
# it is accepted anyway (their hints are lost until then; the page reads its rooms afresh).
FOLLOW_WAIT_SECONDS = 2.0
# At shutdown, how long to spend taking this process's people out of who is here.
PRESENCE_LEAVE_SECONDS = 1.0
# Layers forget group members after `group_expiry` (an hour in settings, over Redis), and a
# restarted Redis forgets them at once: re-joining often keeps a room subscription alive
# through both, at one cheap command per room per process per minute.
GROUP_REFRESH_SECONDS = 60
# A lost subscription (Redis restarting, say) is retried with capped, doubling waits.
RESUBSCRIBE_FIRST_WAIT = 0.5
RESUBSCRIBE_MAX_WAIT = 10.0

# How long frames that arrived ahead of a missing number wait for it before this process
# reads the missing events from the database; gaps longer than GAP_FILL_MAX are left to
# the clients' own catch-up.
GAP_WAIT_SECONDS = 0.25
GAP_FILL_MAX = 500

# The first event's seq, the frames from there on, when the first was committed, and
# whether they are repeats (announced again, maybe already delivered).
Chunk = tuple[int, list[str], float | None, bool]

_room_events_after = database_sync_to_async(selectors.room_events_after)
_room_last_seq = database_sync_to_async(selectors.room_last_seq)


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def room_activity(room_id: int, frame: str) -> str:
    """A room event as the person's other rooms' sockets get it (protocol.RoomActivity),
    made by joining strings: the event's frame is encoded once, for all of them."""
    return f'{{"type":"room.activity","room_id":{room_id},"event":{frame}}}'


def _in_room_log(frame: str) -> bool:
    try:
        return isinstance(msgspec.json.decode(frame).get("seq"), int)
    except (msgspec.DecodeError, AttributeError):
        return False


def gapless(events: list[tuple[int, str]], first_seq: int) -> bool:
    return bool(events) and all(seq == first_seq + n for n, (seq, _) in enumerate(events))


class RoomHub:
    """This process's sockets by room, with one layer subscription per room."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.layer = get_channel_layer()
        # The in-memory layer reaches only this process, whose sockets are all here: hand
        # events to them directly rather than through the layer's queues.
        self.local_only = isinstance(self.layer, InMemoryChannelLayer)
        # Marks this hub's own events, which it has delivered here already.
        self.origin = uuid.uuid4().hex
        self.rooms: dict[int, set[LocalSocket]] = {}
        # Sockets in another room that show this one in their person's room list.
        self.watchers: dict[int, set[LocalSocket]] = {}
        self.people: dict[int, set[LocalSocket]] = {}  # person -> their sockets here
        # Rooms found public while this process has sockets in them: anyone with a name may
        # enter, so a reconnecting crowd costs no query each. A room made private leaves.
        self.known_public: set[int] = set()
        self._person_streams = PersonStreams(
            self.layer, loop, self.origin, lambda pid, hint: self._receive_hint(pid, hint)
        )
        self._subscriptions: dict[int, tuple[asyncio.Future, asyncio.Task]] = {}
        self._outbox: dict[int, list[Chunk]] = {}
        self._orders: dict[int, RoomOrder] = {}
        self._gap_timers: dict[int, asyncio.TimerHandle] = {}
        self._publisher: asyncio.Task | None = None
        self._publish_failing = False
        self._channels: dict[int, str] = {}  # room -> this process's subscription channel
        self._refresher: asyncio.Task | None = None
        self._gap_fillers: set[asyncio.Task] = set()
        # Ephemera: who is typing (until when) and who is here, per room.
        self._typing: dict[int, dict[int, tuple[str, float]]] = {}
        self._typing_timers: dict[int, asyncio.TimerHandle] = {}
        self._present: dict[int, list[protocol.Sender]] = {}
        self._presence = (
            None
            if self.local_only or not isinstance(self.layer, RedisChannelLayer)
            else SharedPresence(self.layer, self.origin)
        )
        self._presence_dirty: set[int] = set()
        self._presence_task: asyncio.Task | None = None
        self._presence_keeper: asyncio.Task | None = None
        self._presence_failing = False
        self._background: set[asyncio.Task] = set()

    def has_room(self, room_id: int) -> bool:
        return room_id in self.rooms

    async def join(self, room_id: int, socket: LocalSocket) -> None:
        """Add a socket to its room; returns once the room's events are flowing here, so
        nothing committed after this can be missed."""
        newcomer = socket.person is not None and socket.person not in self._local_people(room_id)
        self.rooms.setdefault(room_id, set()).add(socket)
        socket.room_id = room_id
        self._greet(room_id, socket)
        if newcomer:
            self._presence_changed(room_id)
        if socket.person is not None:
            self._join_person(socket.person[0], socket)
        if not self.local_only:
            await asyncio.shield(self._subscribed(room_id))
            if socket.person is not None:
                await self._within(
                    FOLLOW_WAIT_SECONDS, self._person_streams.ready(socket.person[0])
                )

    def _subscribed(self, room_id: int) -> asyncio.Future:
        """The room's subscription (made if there is none): done once events flow here."""
        if room_id not in self._subscriptions:
            ready = self.loop.create_future()
            task = self.loop.create_task(self._subscribe(room_id, ready), context=fresh_context())
            self._subscriptions[room_id] = (ready, task)
        return self._subscriptions[room_id][0]

    @contextlib.asynccontextmanager
    async def following(self, room_id: int) -> AsyncIterator[Callable[[float], Awaitable[bool]]]:
        """Follow a room's log from now on without a socket (the API's long poll): yields
        `next_event(timeout)`, true once an event of the room's log has reached this
        process since entering (or the room is closed to followers), false when `timeout`
        seconds pass first. An event committed after entering is never missed, so a read
        made inside the block and then this wait together see everything."""
        arrived = asyncio.Event()

        async def send(message: dict) -> None:
            # Only the log wakes it: the room's ephemera (typing, presence) do not.
            if message["type"] != "websocket.send" or _in_room_log(message["text"]):
                arrived.set()

        follower = LocalSocket(send, max_backlog=1, connection_id="follower")

        async def next_event(timeout: float) -> bool:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(arrived.wait(), timeout)
            return arrived.is_set()

        await self.join(room_id, follower)
        try:
            yield next_event
        finally:
            self.leave(room_id, follower)

    def leave(self, room_id: int, socket: LocalSocket) -> None:
        self.unwatch(socket, set(socket.watching))
        if socket.person is not None:
            self._leave_person(socket.person[0], socket)
        sockets = self.rooms.get(room_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if socket.person is not None and socket.person not in self._local_people(room_id):
            self._presence_changed(room_id)
            self.typing(room_id, socket.person, active=False)  # gone: not typing either
        if not sockets:
            del self.rooms[room_id]
            self.known_public.discard(room_id)
            self._typing.pop(room_id, None)
            self._present.pop(room_id, None)
            timer = self._typing_timers.pop(room_id, None)
            if timer is not None:
                timer.cancel()
            self._drop_if_unused(room_id)

    def _drop_if_unused(self, room_id: int) -> None:
        """Stop following a room nobody here is in or watches any more."""
        if room_id in self.rooms or room_id in self.watchers:
            return
        self._orders.pop(room_id, None)
        gap_timer = self._gap_timers.pop(room_id, None)
        if gap_timer is not None:
            gap_timer.cancel()
        subscription = self._subscriptions.pop(room_id, None)
        if subscription is not None:
            subscription[1].cancel()

    # ---- the person's other rooms, and their own stream --------------------------------

    async def watch(self, socket: LocalSocket, room_ids: set[int]) -> None:
        """The socket gets these rooms' events as `room.activity` (for its room list).
        Returns once they flow here (or a moment has passed: the page reads its rooms
        afresh once the socket is open, and again on any gap it sees)."""
        self._watch(socket, room_ids)
        if not self.local_only:
            ready = [self._subscribed(room_id) for room_id in socket.watching]
            await self._within(FOLLOW_WAIT_SECONDS, *ready)

    def _watch(self, socket: LocalSocket, room_ids: set[int]) -> None:
        for room_id in room_ids - socket.watching - {socket.room_id}:
            self.watchers.setdefault(room_id, set()).add(socket)
            socket.watching.add(room_id)
            if not self.local_only:
                self._subscribed(room_id)

    @staticmethod
    async def _within(seconds: float, *futures: asyncio.Future) -> None:
        pending = [future for future in futures if not future.done()]
        if pending:
            await asyncio.wait([asyncio.shield(f) for f in pending], timeout=seconds)

    def unwatch(self, socket: LocalSocket, room_ids: set[int]) -> None:
        for room_id in room_ids & socket.watching:
            socket.watching.discard(room_id)
            watchers = self.watchers.get(room_id)
            if watchers is not None:
                watchers.discard(socket)
                if not watchers:
                    del self.watchers[room_id]
            self._drop_if_unused(room_id)

    def _join_person(self, person_id: int, socket: LocalSocket) -> None:
        self.people.setdefault(person_id, set()).add(socket)
        if not self.local_only:
            self._person_streams.subscribe(person_id)

    def _leave_person(self, person_id: int, socket: LocalSocket) -> None:
        sockets = self.people.get(person_id)
        if sockets is None:
            return
        sockets.discard(socket)
        if not sockets:
            del self.people[person_id]
            self._person_streams.unsubscribe(person_id)

    def notify_person(
        self, person_id: int, frame: str, watch: int | None = None, leave: int | None = None
    ) -> None:
        """A hint for every socket of the person, here and in other processes; with
        `watch`, those sockets also start following that room's activity; with `leave`,
        they stop, and the person's sockets in that room are closed (4403)."""
        hint = envelope.PersonHint(frame, self.origin, watch, leave)
        self._receive_hint(person_id, hint)
        if not self.local_only:
            self._person_streams.send(person_id, hint)

    def _receive_hint(self, person_id: int, hint: envelope.PersonHint) -> None:
        for socket in tuple(self.people.get(person_id, ())):
            if hint.watch is not None:
                self._watch(socket, {hint.watch})
            if hint.leave is not None:
                self.unwatch(socket, {hint.leave})
            socket.write(hint.frame)
            if hint.leave is not None and socket.room_id == hint.leave:
                socket.close_soon(protocol.CLOSE_FORBIDDEN)

    def restrict(self, room_id: int, members: list[int]) -> None:
        """The room is private now: close (4403) the sockets in it, here and in other
        processes, of everyone but its members and staff."""
        self._restrict(room_id, set(members))
        if not self.local_only:
            event = envelope.RoomRestricted(members, self.origin)

            async def send() -> None:
                try:
                    await self.layer.group_send(room_group(room_id), event.message())
                except Exception as exc:
                    log.warning(
                        "could not tell other processes a room is private now",
                        extra={"room": room_id, "error": repr(exc)},
                    )

            task = self.loop.create_task(send(), context=fresh_context())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _restrict(self, room_id: int, members: set[int]) -> None:
        self.known_public.discard(room_id)
        for socket in tuple(self.rooms.get(room_id, ())):
            if socket.staff or (socket.person is not None and socket.person[0] in members):
                continue
            socket.close_soon(protocol.CLOSE_FORBIDDEN)

    async def close(self) -> None:
        """Stop every room subscription and background task of this hub, and take this
        process's people out of who is here (a worker that dies leaves that to expiry)."""
        for task in (self._presence_keeper, self._presence_task):
            if task is not None:
                task.cancel()  # nothing may renew the entries while they are taken out
        if self._presence is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    asyncio.gather(*(self._presence.put(r, []) for r in self._presence.rooms())),
                    PRESENCE_LEAVE_SECONDS,
                )
        await self._person_streams.close()
        tasks = [task for _, task in self._subscriptions.values()]
        tasks += [
            t
            for t in (self._refresher, self._publisher, self._presence_task, self._presence_keeper)
            if t is not None
        ]
        tasks += self._gap_fillers
        tasks += self._background
        self._subscriptions.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def publish(
        self,
        room_id: int,
        first_seq: int,
        frames: list[str],
        committed_at: float | None = None,
        repeat: bool = False,
    ) -> None:
        """Send encoded frames, the room's events from `first_seq` on, to every socket of
        the room in every process: this process's at once, the others' through the layer.
        A `repeat` may have been delivered already: it fills a gap, and is dropped where
        nothing is missing (or nothing is known yet)."""
        self._receive(room_id, first_seq, frames, committed_at, repeat)
        if self.local_only:
            return
        chunks = self._outbox.setdefault(room_id, [])
        last = chunks[-1] if chunks else None
        if last and last[0] + len(last[1]) == first_seq and last[3] == repeat:
            last[1].extend(frames)  # what piled up meanwhile travels as one event
        else:
            chunks.append((first_seq, list(frames), committed_at, repeat))
        if self._publisher is None:
            self._publisher = self.loop.create_task(
                self._publish_pending(), context=fresh_context()
            )

    async def _publish_pending(self) -> None:
        # One task sends everything, so a room's events leave this process in the order
        # they were committed.
        try:
            while self._outbox:
                room_id, chunks = next(iter(self._outbox.items()))
                del self._outbox[room_id]
                for first_seq, frames, committed_at, repeat in chunks:
                    event = envelope.RoomFrames(
                        first_seq, frames, committed_at, repeat, self.origin
                    )
                    try:
                        await self.layer.group_send(room_group(room_id), event.message())
                    except Exception as exc:
                        # Said once per outage, not once per message.
                        if not self._publish_failing:
                            log.warning(
                                "could not publish to other processes; they catch up from "
                                "the database",
                                extra={"error": repr(exc)},
                            )
                        self._publish_failing = True
                    else:
                        if self._publish_failing:
                            log.info("publishing to other processes again")
                        self._publish_failing = False
        finally:
            self._publisher = None

    def _receive(
        self,
        room_id: int,
        first_seq: int,
        frames: list[str],
        committed_at: float | None = None,
        repeat: bool = False,
    ) -> None:
        """Hand a room's frames to its sockets in sequence order, each once.

        Workers announce their own commits in order, but two workers' events for one room
        can reach this one crossed: a chunk that arrives ahead of a missing number waits
        here briefly, and if the missing events do not follow, they are read from the
        database (once for this process, not once per socket).
        """
        if room_id not in self.rooms and room_id not in self.watchers:
            return
        order = self._orders.setdefault(room_id, RoomOrder())
        ready = order.offer(first_seq, frames, repeat)
        if ready:
            self._deliver(room_id, ready)
            if committed_at is not None:
                metrics.fanout_seconds.observe(time.time() - committed_at)
        self._watch_gap(room_id, order)

    def _watch_gap(self, room_id: int, order: RoomOrder) -> None:
        timer = self._gap_timers.get(room_id)
        if order.ahead and timer is None:
            self._gap_timers[room_id] = self.loop.call_later(
                GAP_WAIT_SECONDS, self._fill_gap, room_id, context=fresh_context()
            )
        elif not order.ahead and timer is not None:
            timer.cancel()
            del self._gap_timers[room_id]

    def _fill_gap(self, room_id: int) -> None:
        self._gap_timers.pop(room_id, None)
        order = self._orders.get(room_id)
        if order is None:
            return
        if order.ahead:
            filler = self.loop.create_task(
                self._fetch_missing(room_id, order), context=fresh_context()
            )
            self._gap_fillers.add(filler)
            filler.add_done_callback(self._gap_fillers.discard)

    async def _fetch_missing(self, room_id: int, order: RoomOrder) -> None:
        missing_from, missing_to = order.next_seq, min(order.ahead)
        assert missing_from is not None  # frames wait ahead only of a known number
        events: list[tuple[int, str]] = []
        if missing_to - missing_from <= GAP_FILL_MAX:
            try:
                # Numbers below one that arrived are committed: the range can be read.
                events = await _room_events_after(
                    room_id=room_id, after_seq=missing_from - 1, up_to_seq=missing_to - 1
                )
            except Exception:
                log.warning("could not fill a gap", extra={"room": room_id}, exc_info=True)
        if self._orders.get(room_id) is not order:
            return  # the room's sockets left meanwhile
        if gapless(events, missing_from) and order.next_seq == missing_from:
            self._receive(room_id, missing_from, [frame for _, frame in events])
        if order.next_seq == missing_from and order.ahead:
            # Too far behind (or unreadable): move on; each client fetches what it lacks.
            self._deliver(room_id, order.skip_gap())
            self._watch_gap(room_id, order)

    async def _subscribe(self, room_id: int, ready: asyncio.Future) -> None:
        """Receive the room's events from other processes for as long as it has sockets
        here. `ready` is set once events flow, or once the layer is found unreachable (the
        socket is served anyway: this process's own events still reach it, and the rest
        is read from the database when the layer is back)."""
        group = room_group(room_id)
        wait = RESUBSCRIBE_FIRST_WAIT
        while True:
            channel = await self.layer.new_channel()
            try:
                await self.layer.group_add(group, channel)
                self._channels[room_id] = channel
                # Events committed from here on arrive; older ones come from the database.
                await self._catch_up(room_id)
                if not ready.done():
                    ready.set_result(None)
                if wait > RESUBSCRIBE_FIRST_WAIT:
                    log.info("room subscription restored", extra={"room": room_id})
                wait = RESUBSCRIBE_FIRST_WAIT
                self._start_refresher()
                while True:
                    message = envelope.read(await self.layer.receive(channel))
                    if message.origin == self.origin:
                        continue
                    if isinstance(message, envelope.RoomEphemera):
                        self._receive_ephemera(room_id, message)
                    elif isinstance(message, envelope.RoomRestricted):
                        self._restrict(room_id, set(message.members))
                    elif isinstance(message, envelope.RoomFrames):
                        self._receive(
                            room_id,
                            message.first_seq,
                            message.frames,
                            message.committed_at,
                            message.repeat,
                        )
            except asyncio.CancelledError:
                self._forget_channel(room_id, channel)
                await asyncio.shield(self._discard(group, channel))
                raise
            except Exception as exc:
                log.warning(
                    "room subscription lost; retrying",
                    extra={"room": room_id, "error": repr(exc), "retry_in_seconds": wait},
                )
                self._forget_channel(room_id, channel)
                if not ready.done():
                    await self._catch_up(room_id)
                    ready.set_result(None)
                await self._discard(group, channel)
            await asyncio.sleep(wait)
            wait = min(wait * 2, RESUBSCRIBE_MAX_WAIT)

    async def _catch_up(self, room_id: int) -> None:
        """Bring the room's position here up to what is stored: at first subscription, just
        note it; after an outage, deliver what other processes stored meanwhile."""
        last_seq = await self._last_seq(room_id)
        order = self._orders.get(room_id)
        if order is None:
            self._orders[room_id] = RoomOrder(last_seq)
            return
        if last_seq is None:
            return
        if order.next_seq is None:
            order.next_seq = last_seq + 1
            return
        missed = last_seq - order.next_seq + 1
        if missed <= 0:
            return
        if missed > GAP_FILL_MAX:
            # More than is worth replaying here: each client reconnects and catches up.
            for socket in tuple(self.rooms.get(room_id, ())):
                socket.close_soon(CLOSE_TRY_AGAIN)
            return
        after_seq = order.next_seq - 1
        try:
            events = await _room_events_after(
                room_id=room_id, after_seq=after_seq, up_to_seq=last_seq
            )
        except Exception:
            log.warning("could not catch up a room", extra={"room": room_id}, exc_info=True)
            return
        if gapless(events, after_seq + 1) and self._orders.get(room_id) is order:
            self._receive(room_id, after_seq + 1, [frame for _, frame in events])

    # ---- ephemera: typing and who is here ------------------------------------------------

    def typing(self, room_id: int, person: Person, active: bool) -> None:
        """A person of this process's sockets is typing (or stopped): tell the room."""
        if len(self._present.get(room_id, ())) > settings.CHAT_TYPING_MAX_PEOPLE:
            return
        if self._apply_typing(room_id, person, active) and not self.local_only:
            self._send_ephemera(
                room_id, envelope.RoomEphemera("typing", self.origin, person, active)
            )

    def _apply_typing(self, room_id: int, person: Person, active: bool) -> bool:
        """Whether anything changed (a refresh counts: it renews clients' timers)."""
        if room_id not in self.rooms:
            return False
        typing = self._typing.setdefault(room_id, {})
        person_id, name = person
        now = self.loop.time()
        if active:
            shown_until = typing.get(person_id, (name, 0.0))[1]
            if shown_until - TYPING_SECONDS > now - TYPING_REFRESH_SECONDS:
                return False  # shown, and renewed a moment ago: nothing new to say
            typing[person_id] = (name, now + TYPING_SECONDS)
        elif typing.pop(person_id, None) is None:
            return False
        self._write_typing(room_id)
        return True

    def _write_typing(self, room_id: int) -> None:
        typing = self._typing.get(room_id, {})
        now = self.loop.time()
        for person_id in [pid for pid, (_, until) in typing.items() if until <= now]:
            del typing[person_id]
        people = [protocol.Sender(id=pid, name=name) for pid, (name, _) in typing.items()]
        self._write_all(room_id, protocol.encode(protocol.TypingNow(people=people)))
        timer = self._typing_timers.pop(room_id, None)
        if timer is not None:
            timer.cancel()
        if typing:
            soonest = min(until for _, until in typing.values())
            self._typing_timers[room_id] = self.loop.call_at(
                soonest, self._write_typing, room_id, context=fresh_context()
            )

    def _greet(self, room_id: int, socket: LocalSocket) -> None:
        """A new socket gets the room's ephemera as they are now."""
        present = self._present.get(room_id)
        if present is not None:
            socket.write(protocol.encode(protocol.PresenceNow(people=present)))
        typing = self._typing.get(room_id)
        if typing:
            people = [protocol.Sender(id=pid, name=name) for pid, (name, _) in typing.items()]
            socket.write(protocol.encode(protocol.TypingNow(people=people)))

    def _local_people(self, room_id: int) -> set[Person]:
        return {s.person for s in self.rooms.get(room_id, ()) if s.person is not None}

    def _presence_changed(self, room_id: int) -> None:
        """This process's people in the room changed: update the shared view, then show it."""
        self._presence_dirty.add(room_id)
        if self._presence_task is None:
            self._presence_task = self.loop.create_task(
                self._update_presence(), context=fresh_context()
            )
        if self._presence is not None and self._presence_keeper is None:
            self._presence_keeper = self.loop.create_task(
                self._keep_presence(), context=fresh_context()
            )

    async def _update_presence(self) -> None:
        # One task for all rooms: a room's updates never overtake each other.
        try:
            while self._presence_dirty:
                room_id = self._presence_dirty.pop()
                people = sorted(self._local_people(room_id))
                shared = await self._share_presence(room_id, people, announce=True)
                self._show_presence(room_id, people_once(people) if shared is None else shared)
        finally:
            self._presence_task = None

    async def _share_presence(
        self, room_id: int, people: list[Person], *, announce: bool
    ) -> list[protocol.Sender] | None:
        """Write this process's people to the shared store and read everyone's (None when
        there is no store, or it failed: then this process's own view is shown)."""
        if self._presence is None:
            return None
        try:
            await self._presence.put(room_id, people)
            if announce:
                hint = envelope.RoomEphemera("presence", self.origin)
                await self.layer.group_send(room_group(room_id), hint.message())
            everyone = await self._presence.read(room_id)
        except Exception as exc:
            if not self._presence_failing:
                log.warning("presence: the shared store failed", extra={"error": repr(exc)})
            self._presence_failing = True
            return None
        if self._presence_failing:
            log.info("presence: the shared store answers again")
        self._presence_failing = False
        return everyone

    async def _keep_presence(self) -> None:
        """Renew this process's entries, and notice others' that expired (a killed worker)."""
        while True:
            await asyncio.sleep(PRESENCE_RENEW_SECONDS)
            for room_id in list(self.rooms):
                people = sorted(self._local_people(room_id))
                shared = await self._share_presence(room_id, people, announce=False)
                if shared is not None:
                    self._show_presence(room_id, shared)

    def _show_presence(self, room_id: int, people: list[protocol.Sender]) -> None:
        if room_id not in self.rooms or self._present.get(room_id) == people:
            return
        self._present[room_id] = people
        self._write_all(room_id, protocol.encode(protocol.PresenceNow(people=people)))

    def _receive_ephemera(self, room_id: int, event: envelope.RoomEphemera) -> None:
        if event.kind == "typing" and event.person is not None:
            self._apply_typing(room_id, event.person, event.active)
        elif event.kind == "presence":
            task = self.loop.create_task(self._reread_presence(room_id), context=fresh_context())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _reread_presence(self, room_id: int) -> None:
        if self._presence is None:
            return
        try:
            people = await self._presence.read(room_id)
        except Exception:
            return  # the keeper tries again
        self._show_presence(room_id, people)

    def _send_ephemera(self, room_id: int, event: envelope.RoomEphemera) -> None:
        async def send() -> None:
            # Ephemera may be lost: the next update carries the whole state.
            with contextlib.suppress(Exception):
                await self.layer.group_send(room_group(room_id), event.message())

        task = self.loop.create_task(send(), context=fresh_context())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _write_all(self, room_id: int, text: str) -> None:
        for socket in tuple(self.rooms.get(room_id, ())):
            socket.write(text)

    def _deliver(self, room_id: int, frames: list[str]) -> None:
        # Tuples: a write may close a socket, and its leaving changes the room's sets.
        sockets = tuple(self.rooms.get(room_id, ()))
        watchers = tuple(self.watchers.get(room_id, ()))
        for text in frames:
            for socket in sockets:
                socket.write(text)
            if watchers:
                activity = room_activity(room_id, text)
                for watcher in watchers:
                    watcher.write(activity)
        metrics.deliveries.inc(len(frames) * (len(sockets) + len(watchers)))

    def last_delivered(self, room_id: int) -> int | None:
        """The number of the room's last event handed to this process's sockets, if known."""
        order = self._orders.get(room_id)
        if order is None or order.next_seq is None:
            return None
        return order.next_seq - 1

    async def _last_seq(self, room_id: int) -> int | None:
        try:
            return await _room_last_seq(room_id=room_id)
        except Exception:
            log.warning("could not read a room's position", extra={"room": room_id}, exc_info=True)
            return None

    def _start_refresher(self) -> None:
        if self._refresher is None:
            self._refresher = self.loop.create_task(self._refresh_groups(), context=fresh_context())

    async def _refresh_groups(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            for room_id, channel in list(self._channels.items()):
                try:
                    await self.layer.group_add(room_group(room_id), channel)
                except Exception as exc:
                    log.warning(
                        "could not refresh a room subscription",
                        extra={"room": room_id, "error": repr(exc)},
                    )

    async def _discard(self, group: str, channel: str) -> None:
        try:
            await self.layer.group_discard(group, channel)
        except Exception:
            # Harmless: the layer forgets the member after group_expiry.
            log.debug("could not leave a group", extra={"group": group}, exc_info=True)

    def _forget_channel(self, room_id: int, channel: str) -> None:
        if self._channels.get(room_id) == channel:
            del self._channels[room_id]
