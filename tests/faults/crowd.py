"""A crowd of clients that behave as the page does (chat/static/chat/socket.js), and the
invariant that must hold when a fault is over.

Each person keeps an outbox of what they sent until it is acknowledged and sends it one
message at a time, oldest first, under the same client ids after every reconnect and
whenever the server asks (`rate_limited`, `unavailable`, `outcome_unknown`); any other
error is a message the page would show as failed, and the invariant reports it. Each
numbers what they see, fills gaps with `sync` after the last number, and reconnects to
whichever worker answers: at once after 1012, with capped, jittered backoff otherwise.

A person can carry a planted fault (`plant`), so that a test can prove the invariant
notices: "drop_delivery" silently loses one message it was sent, "no_resend" forgets what
was unacknowledged when its connection went, instead of sending it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import secrets
import socket
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.httpclient import join
from tests.live_server import LiveServer

SEND_AGAIN = {"rate_limited", "unavailable", "outcome_unknown"}
GAP_WAIT = 0.4
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 4.0


class InvariantBroken(AssertionError):
    pass


@dataclass(eq=False)  # each person is themself: hashable by identity
class Person:
    name: str
    session: str
    room_id: int
    workers: Callable[[], list[LiveServer]]  # whichever are running now
    prefer: int = 0  # which worker to try first
    plant: str | None = None
    receive_buffer: int | None = None  # a client on a slow link, if set
    padding: int = 0  # makes each message this many times two characters longer

    last_seq: int = 0
    view: list[tuple[int, str, str]] = field(default_factory=list)  # seq, client_id, text
    outbox: dict[str, str] = field(default_factory=dict)  # client_id -> text, in order
    sent: dict[str, str] = field(default_factory=dict)  # everything this person sent
    transmitted_at: dict[str, float] = field(default_factory=dict)
    acked: dict[str, float] = field(default_factory=dict)  # client_id -> seconds to ack
    acked_by: dict[str, int] = field(default_factory=dict)  # client_id -> worker port
    errors: list[tuple[str, float]] = field(default_factory=list)  # code, when transmitted
    refused: list[dict] = field(default_factory=list)
    closes: Counter = field(default_factory=Counter)
    connections: int = 0
    ports: list[int] = field(default_factory=list)  # the worker of each connection
    live_frames: int = 0

    def __post_init__(self) -> None:
        self._early: dict[int, tuple[int, str, str]] = {}
        self._pending: set[asyncio.Task] = set()
        self._socket: ClientConnection | None = None
        self._port: int | None = None
        self._syncing = False
        self._gap_timer: asyncio.TimerHandle | None = None
        self._stopping = False
        self._hold_until = 0.0
        self._attempts = 0
        self._counter = itertools.count(1)
        self._dropped_one = False
        self._in_flight: str | None = None
        self._held = False
        self._reading = asyncio.Event()
        self._reading.set()
        self.connected = asyncio.Event()

    # ---- what the person does -------------------------------------------------------------

    def say_something(self) -> str:
        client_id = secrets.token_hex(8)
        text = f"{self.name} #{next(self._counter)}" + " ." * self.padding
        self.outbox[client_id] = text
        self.sent[client_id] = text
        self._send_next()
        return client_id

    def stop(self) -> None:
        self._stopping = True
        if self._socket is not None:
            self._background(self._socket.close())

    def hold_connection(self, seconds: float) -> None:
        """The person's network goes for `seconds`: the socket drops, no reconnect before."""
        self._hold_until = time.monotonic() + seconds
        if self._socket is not None:
            self._socket.transport.abort()
            self._socket = None  # from now on, what is said waits in the outbox
            self.connected.clear()

    def stop_reading(self) -> None:
        self._reading.clear()
        if self._socket is not None:
            self._socket.transport.pause_reading()

    def resume_reading(self) -> None:
        self._reading.set()
        if self._socket is not None:
            self._socket.transport.resume_reading()

    @property
    def settled(self) -> bool:
        return not self.outbox and not self._early and self._socket is not None

    # ---- the connection, as socket.js keeps it ----------------------------------------------

    async def run(self) -> None:
        while not self._stopping:
            wait = self._hold_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            delay = await self._one_connection()
            if not self._stopping:
                await asyncio.sleep(delay)

    async def _one_connection(self) -> float:
        workers = self.workers()
        order = workers[self.prefer % len(workers) :] + workers[: self.prefer % len(workers)]
        for worker in order:
            try:
                socket = await asyncio.wait_for(self._open(worker), 5)
            except Exception:  # refused, reset, timed out: try the next worker
                continue
            return await self._serve(socket, worker.port)
        return self._backoff()

    async def _open(self, worker: LiveServer) -> ClientConnection:
        sock = None
        if self.receive_buffer is not None:
            # A client on a slow link: a small receive window and an Ethernet-sized segment.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.receive_buffer)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (worker.host, worker.port))
        return await connect(
            worker.socket_url(self.room_id),
            origin=worker.origin,
            additional_headers={"Cookie": f"sessionid={self.session}"},
            ping_interval=None,  # a browser answers pings, it sends none
            max_queue=None,
            sock=sock,
        )

    async def _serve(self, socket: ClientConnection, port: int) -> float:
        self._socket, self._port = socket, port
        self.connections += 1
        self.ports.append(port)
        self._attempts = 0
        self._syncing = False
        self.connected.set()
        if not self._reading.is_set():
            socket.transport.pause_reading()
        try:
            self._request_sync()
            if self.plant == "no_resend" and self.connections > 1:
                self.outbox.clear()  # planted: what waited is forgotten, never sent again
            self._send_next()
            async for raw in socket:
                self._receive(json.loads(raw))
        except ConnectionClosed:
            pass
        finally:
            self._socket = None
            self.connected.clear()
            self._syncing = False
            self._in_flight = None
        code = socket.close_code or 1006
        self.closes[code] += 1
        if code == 1012:
            return 0.0
        return self._backoff()

    def _backoff(self) -> float:
        ceiling = min(BACKOFF_CAP, BACKOFF_FIRST * 2**self._attempts)
        self._attempts += 1
        return ceiling / 2 + random.random() * ceiling / 2

    def _send_next(self) -> None:
        """The oldest unacknowledged message goes out, unless one is on its way already or
        the server asked for a wait."""
        if self._socket is None or self._in_flight is not None or self._held or not self.outbox:
            return
        client_id = next(iter(self.outbox))
        self._in_flight = client_id
        self.transmitted_at[client_id] = time.monotonic()
        frame = {"type": "message.send", "client_id": client_id, "text": self.outbox[client_id]}
        self._send(frame)

    def _release(self) -> None:
        self._held = False
        self._send_next()

    def _send(self, frame: dict) -> None:
        socket = self._socket
        if socket is not None:
            self._background(socket.send(json.dumps(frame)))

    def _background(self, coroutine) -> None:
        task = asyncio.ensure_future(_quietly(coroutine))
        self._pending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._pending.discard)

    def _request_sync(self) -> None:
        if self._socket is None or self._syncing:
            return
        self._syncing = True
        self._send({"type": "sync", "after_seq": self.last_seq})

    def _receive(self, frame: dict) -> None:
        kind = frame["type"]
        if kind == "message.created":
            self.live_frames += 1
            self._accept([frame["message"]])
        elif kind == "ack":
            self._accept([frame["message"]])
            self._acknowledged(frame["client_id"])
        elif kind == "sync.result":
            self._syncing = False
            # Only messages are posted here: every event is a message's creation.
            self._accept([event["message"] for event in frame["events"]])
            if frame["has_more"]:
                self._request_sync()
            else:
                self._check_gap()
        elif kind == "error":
            self._rejected(frame)

    def _acknowledged(self, client_id: str) -> None:
        if self.outbox.pop(client_id, None) is not None:
            self.acked[client_id] = time.monotonic() - self.transmitted_at[client_id]
            self.acked_by[client_id] = self._port or 0
        if self._in_flight == client_id:
            self._in_flight = None
            self._send_next()

    def _rejected(self, error: dict) -> None:
        client_id = error.get("client_id")
        wait = (error.get("retry_after_ms") or 1000) / 1000
        if client_id not in self.outbox:
            if self._syncing:
                self._syncing = False
                asyncio.get_running_loop().call_later(wait, self._request_sync)
            return
        self.errors.append((error["code"], self.transmitted_at.get(client_id, 0.0)))
        if self._in_flight == client_id:
            self._in_flight = None
        if error["code"] in SEND_AGAIN:
            self._held = True
            asyncio.get_running_loop().call_later(wait * (1 + random.random() / 2), self._release)
        else:
            self.refused.append(error)  # the page would show it failed: the check reports it
            self.outbox.pop(client_id)
            self._send_next()

    def _accept(self, messages: list[dict]) -> None:
        for message in messages:
            if message["seq"] > self.last_seq:
                self._early[message["seq"]] = (
                    message["seq"],
                    message["client_id"],
                    message["text"],
                )
            if message["client_id"] in self.outbox and message["sender"]["name"] == self.name:
                self._acknowledged(message["client_id"])
        while self.last_seq + 1 in self._early:
            self.last_seq += 1
            entry = self._early.pop(self.last_seq)
            if self.plant == "drop_delivery" and not self._dropped_one and self.last_seq > 3:
                self._dropped_one = True  # planted: one message silently lost
                continue
            self.view.append(entry)
        self._check_gap()

    def _check_gap(self) -> None:
        if not self._early or self._gap_timer is not None:
            return

        def fill() -> None:
            self._gap_timer = None
            if self._early:
                self._request_sync()

        self._gap_timer = asyncio.get_running_loop().call_later(GAP_WAIT, fill)


async def _quietly(coroutine) -> None:
    with contextlib.suppress(ConnectionClosed, OSError):
        await coroutine


class Crowd:
    """People in one room, posting at random intervals while the test breaks things."""

    def __init__(self, people: list[Person], *, interval: float) -> None:
        self.people = people
        self.interval = interval
        self._tasks: list[asyncio.Task] = []
        self._posting = True
        self.started_at = time.monotonic()
        self.fault_over_at: float | None = None
        self.recovered_in: float | None = None

    @classmethod
    async def gather(
        cls,
        workers: Callable[[], list[LiveServer]],
        count: int,
        *,
        interval: float = 0.5,
        room: str | None = None,
        plant: dict[int, str] | None = None,
    ) -> Crowd:
        """`count` people joined through the first worker's front page, each preferring the
        workers in turn."""
        entry = workers()[0]
        room = room or f"room {secrets.token_hex(4)}"
        people = []
        for number in range(count):
            name = f"p{number}-{secrets.token_hex(3)}"
            session, room_id = await join(entry.host, entry.port, name=name, room=room)
            people.append(
                Person(
                    name,
                    session,
                    room_id,
                    workers,
                    prefer=number,
                    plant=(plant or {}).get(number),
                )
            )
        return cls(people, interval=interval)

    @property
    def room_id(self) -> int:
        return self.people[0].room_id

    async def start(self) -> None:
        for person in self.people:
            self._tasks.append(asyncio.ensure_future(person.run()))
            self._tasks.append(asyncio.ensure_future(self._post(person)))
        await asyncio.wait_for(
            asyncio.gather(*(person.connected.wait() for person in self.people)), 20
        )
        self.started_at = time.monotonic()

    async def _post(self, person: Person) -> None:
        await asyncio.sleep(random.random() * self.interval)
        while self._posting:
            person.say_something()
            await asyncio.sleep(self.interval * (0.5 + random.random()))

    async def talk(
        self, messages: int = 40, *, people: list[Person] | None = None, timeout: float = 60
    ) -> None:
        """Wait until every person (of `people`) has seen `messages` more messages: the
        room is busy on every worker (a wait for traffic, not for a length of time)."""
        people = self.people if people is None else people
        start = {person: person.last_seq for person in people}
        deadline = time.monotonic() + timeout
        while any(person.last_seq < start[person] + messages for person in people):
            if time.monotonic() > deadline:
                raise AssertionError(f"the room did not see {messages} messages in {timeout} s")
            await asyncio.sleep(0.02)

    async def fault_over(self, last_seq: Callable[[], int]) -> None:
        """The fault has ended: from now, time how long until everyone is whole again
        (connected, has seen everything stored so far, has had everything they sent
        so far acknowledged)."""
        self.fault_over_at = time.monotonic()
        target = await asyncio.to_thread(last_seq)
        waiting = {person: set(person.outbox) for person in self.people}

        async def watch() -> None:
            while not all(
                person._socket is not None
                and person.last_seq >= target
                and not (waiting[person] & set(person.outbox))
                for person in self.people
            ):
                await asyncio.sleep(0.02)
            self.recovered_in = time.monotonic() - self.fault_over_at

        self._tasks.append(asyncio.ensure_future(watch()))

    async def settle(self, last_seq: Callable[[], int], timeout: float = 60) -> None:
        """Stop posting; wait until every person has had every message acknowledged and
        has seen the room up to its last number (or give up after `timeout`)."""
        self._posting = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            target = await asyncio.to_thread(last_seq)
            if all(p.settled and p.last_seq >= target for p in self.people):
                break
            await asyncio.sleep(0.1)
        for person in self.people:
            person.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def ack_seconds(self, *, port: int | None = None, since: float = 0.0) -> list[float]:
        return [
            seconds
            for person in self.people
            for client_id, seconds in person.acked.items()
            if (port is None or person.acked_by[client_id] == port)
            and person.transmitted_at[client_id] >= since
        ]


@dataclass
class Tally:
    sent: int
    acknowledged: int
    stored: int
    delivered: int
    lost: int
    duplicated: int
    unsent_stored: int
    recovered_in: float | None
    errors: Counter
    problems: list[str]

    def line(self, name: str) -> str:
        recovered = "-" if self.recovered_in is None else f"{self.recovered_in:.1f} s"
        errors = ", ".join(f"{code} {count}" for code, count in sorted(self.errors.items()))
        return (
            f"{name}: sent {self.sent}, acknowledged {self.acknowledged}, stored {self.stored}, "
            f"delivered {self.delivered}, lost {self.lost}, duplicated {self.duplicated}, "
            f"stored unsent {self.unsent_stored}, recovered in {recovered}"
            + (f"; errors answered: {errors}" if errors else "")
        )


REPORTS: list[str] = []


def check(crowd: Crowd, stored: list[tuple[int, str, str]], name: str) -> Tally:
    """The invariant: every message a person sent is acknowledged and stored exactly once;
    every person's view equals the stored sequence, in order, with no gaps and no repeats;
    nothing is stored that nobody sent; the numbers run 1, 2, 3, ... without a gap."""
    problems = []
    sent = {cid: text for person in crowd.people for cid, text in person.sent.items()}
    acknowledged = {cid for person in crowd.people for cid in person.acked}
    stored_texts = Counter(text for _, _, text in stored)
    seqs = [seq for seq, _, _ in stored]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"the stored numbers have gaps or repeats: {seqs[:20]}...")
    lost = [text for text in sent.values() if stored_texts[text] == 0]
    duplicated = [text for text, count in stored_texts.items() if count > 1]
    unsent = [text for text in stored_texts if text not in set(sent.values())]
    unacknowledged = [cid for cid in sent if cid not in acknowledged]
    if lost:
        problems.append(f"{len(lost)} sent messages were never stored, e.g. {lost[:3]}")
    if duplicated:
        problems.append(f"{len(duplicated)} messages were stored twice, e.g. {duplicated[:3]}")
    if unsent:
        problems.append(f"{len(unsent)} stored messages nobody sent, e.g. {unsent[:3]}")
    if unacknowledged:
        problems.append(f"{len(unacknowledged)} sent messages were never acknowledged")
    for cid in acknowledged:
        if stored_texts[sent[cid]] != 1:
            problems.append(f"acknowledged {sent[cid]!r} is stored {stored_texts[sent[cid]]} times")
    for person in crowd.people:
        if person.view != stored:
            missing = len(set(stored) - set(person.view))
            extra = len(person.view) - len(set(person.view))
            problems.append(
                f"{person.name} saw {len(person.view)} messages, {missing} missing, "
                f"{extra} twice, of {len(stored)} stored"
            )
    for person in crowd.people:
        if person.refused:
            problems.append(f"{person.name}'s messages were refused: {person.refused[:2]}")
    errors = Counter(code for person in crowd.people for code, _ in person.errors)
    tally = Tally(
        sent=len(sent),
        acknowledged=len(acknowledged),
        stored=len(stored),
        delivered=sum(len(person.view) for person in crowd.people),
        lost=len(lost),
        duplicated=len(duplicated),
        unsent_stored=len(unsent),
        recovered_in=crowd.recovered_in,
        errors=errors,
        problems=problems,
    )
    REPORTS.append(tally.line(name))
    if problems:
        raise InvariantBroken(f"{tally.line(name)}\n" + "\n".join(problems))
    return tally


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return f"{len(values)} samples"
    cut = statistics.quantiles(values, n=100)
    return f"p50 {cut[49] * 1000:.0f} ms, p99 {cut[98] * 1000:.0f} ms ({len(values)} samples)"
