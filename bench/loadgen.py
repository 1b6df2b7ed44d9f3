"""The load generator: people in rooms, a ledger of what was sent, and timed send steps.

Every socket checks what it receives against the ledger: each `message` must carry the
next sequence number of its room on that socket (a jump is a gap, a repeat or a step back
is a duplicate), and its latency is the time since the sender wrote it (one process, one
clock). Senders check every `ack`: it must name a message they sent, once, with the seq
that the `message` frame carried. Nothing is sampled: every delivery is counted.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from time import perf_counter

import msgspec
import psutil

from bench import frames, wsclient
from bench.servers import Server

# A step passes when p99 is under this and nothing was lost, doubled or reordered.
P99_LIMIT_SECONDS = 0.100
LOADGEN_BOUND_CPU = 0.90
MESSAGE_TEXT = "the quick brown fox jumps over the lazy dog"


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class StepStats:
    """Everything counted for the messages sent in one step (deliveries that arrive during a
    later step are still counted here: the ledger knows which step sent them)."""

    label: str
    rate: float = 0.0
    seconds: float = 0.0
    sent: int = 0
    expected: int = 0  # deliveries: each message times the measured sockets in its room
    delivered: int = 0  # before the grace period ended
    late: int = 0  # after it: counted as lost
    acks: int = 0
    gaps: int = 0  # seqs skipped on some socket
    duplicates: int = 0  # a seq at or below one already seen on that socket
    bad_acks: int = 0  # an ack for nothing we sent, a second ack, or one whose seq disagrees
    bad_messages: int = 0  # a message whose text or seq disagrees with what was sent/acked
    errors: dict[str, int] = field(default_factory=dict)
    sockets_closed: int = 0
    latencies: array = field(default_factory=lambda: array("d"))
    ack_latencies: array = field(default_factory=lambda: array("d"))
    last_delivery_at: float = 0.0
    loadgen_cpu: float = 0.0
    server_cpu: float = 0.0
    other_cpu: float = 0.0  # anything else busy on the two cores, as a fraction of one core
    steal: float = 0.0  # time the hypervisor gave the cores to someone else
    counting_closed: bool = False

    @property
    def lost(self) -> int:
        return self.expected - self.delivered

    @property
    def violations(self) -> int:
        return (
            self.gaps
            + self.duplicates
            + self.bad_acks
            + self.bad_messages
            + sum(self.errors.values())
            + self.sockets_closed
        )

    @property
    def loadgen_bound(self) -> bool:
        return self.loadgen_cpu > LOADGEN_BOUND_CPU

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        acks = sorted(self.ack_latencies)
        p99 = percentile(ordered, 0.99)
        passed = (
            self.sent > 0
            and self.lost == 0
            and self.acks == self.sent
            and self.violations == 0
            and p99 is not None
            and p99 < P99_LIMIT_SECONDS
        )
        return {
            "label": self.label,
            "rate": self.rate,
            "seconds": round(self.seconds, 3),
            "sent": self.sent,
            "achieved_rate": round(self.sent / self.seconds, 1) if self.seconds else None,
            "expected_deliveries": self.expected,
            "delivered": self.delivered,
            "lost": self.lost,
            "late": self.late,
            "acks": self.acks,
            "gaps": self.gaps,
            "duplicates": self.duplicates,
            "bad_acks": self.bad_acks,
            "bad_messages": self.bad_messages,
            "errors": dict(self.errors),
            "sockets_closed": self.sockets_closed,
            "latency_ms": {
                name: None if value is None else round(value * 1000, 2)
                for name, value in (
                    ("p50", percentile(ordered, 0.50)),
                    ("p95", percentile(ordered, 0.95)),
                    ("p99", p99),
                    ("max", ordered[-1] if ordered else None),
                )
            },
            "ack_p99_ms": None if not acks else round(percentile(acks, 0.99) * 1000, 2),
            "loadgen_cpu": round(self.loadgen_cpu, 3),
            "server_cpu": round(self.server_cpu, 3),
            "other_cpu": round(self.other_cpu, 3),
            "steal": round(self.steal, 3),
            "loadgen_bound": self.loadgen_bound,
            "passed": passed,
        }


class Sent:
    """The ledger's entry for one message."""

    __slots__ = ("ack_seq", "message_seq", "sent_at", "stats", "text")

    def __init__(self, sent_at: float, stats: StepStats, text: str):
        self.sent_at = sent_at
        self.stats = stats
        self.text = text
        self.ack_seq: int | None = None
        self.message_seq: int | None = None


class Ledger:
    """What was sent, shared by every socket of a scenario.

    One `message` frame reaches every socket in its room as the same bytes, so it is
    decoded and checked against the ledger once and the result is looked up by those
    bytes for the other sockets: the per-socket work is a dict lookup, the seq check and
    one latency. Different bytes (a corrupted copy) would be decoded on their own.
    """

    CACHE_LIMIT = 200_000

    def __init__(self) -> None:
        self.sent: dict[str, Sent] = {}
        self.frame_cache: dict[bytes, tuple[int, float, StepStats]] = {}
        # Messages that match nothing we sent (another client's, or a bug) land here.
        self.unattributed = StepStats("unattributed")
        self.protocol_violations: list[str] = []
        self.expected_errors: set[str] = set()  # codes a scenario provokes on purpose
        self._ids = itertools.count(1)
        # Edits and reactions on their way: the event each makes, by what identifies it
        # (an edit's new text begins with its id; a reaction by message, emoji and whether
        # it is there), and the acks awaited, by client id.
        self.changes: dict[object, Sent] = {}
        self.change_requests: dict[str, Sent] = {}

    def new_client_id(self, person_index: int) -> str:
        return f"p{person_index}-{next(self._ids)}"

    def first_sight(self, payload: bytes, person: Person) -> tuple[int, float, StepStats] | None:
        """Decode a frame not seen before. Message frames are checked and cached; the
        others (acks, sync results, errors) are handled here for `person`."""
        try:
            frame = frames.decode_server_frame(payload)
        except msgspec.MsgspecError as error:
            self.note_violation(f"undecodable frame {payload[:120]!r}: {error}")
            return None
        if type(frame) is frames.MessageFrame:
            return self._check_message(payload, frame.message)
        if type(frame) is frames.EditedFrame:
            key: object = frame.message.text.split(" ", 1)[0]
            return self._check_change(payload, frame.seq, key)
        if type(frame) is frames.ReactionFrame:
            key = (frame.message_seq, frame.emoji, bool(frame.people))
            return self._check_change(payload, frame.seq, key)
        if type(frame) is frames.AckFrame and frame.client_id in self.change_requests:
            entry = self.change_requests.pop(frame.client_id)
            entry.stats.acks += 1
            entry.stats.ack_latencies.append(perf_counter() - entry.sent_at)
        elif type(frame) is frames.AckFrame:
            self._check_ack(frame)
        elif type(frame) is frames.SyncResultFrame:
            person.sync_results.put_nowait((frame, len(payload)))
        elif isinstance(frame, frames.EPHEMERA):
            pass  # who is here, who is typing: not what this load measures
        else:
            entry = self.sent.get(frame.client_id or "")
            stats = entry.stats if entry else self.unattributed
            stats.errors[frame.code] = stats.errors.get(frame.code, 0) + 1
            if frame.code not in self.expected_errors:
                self.note_violation(f"error frame: {frame.code}: {frame.detail}")
        return None

    def _check_message(
        self, payload: bytes, message: frames.WireMessage
    ) -> tuple[int, float, StepStats]:
        entry = self.sent.get(message.client_id)
        if entry is None:
            result = (message.seq, perf_counter(), self.unattributed)
        else:
            if entry.text != message.text or (
                entry.ack_seq is not None and entry.ack_seq != message.seq
            ):
                entry.stats.bad_messages += 1
                self.note_violation(f"message {message.client_id} differs from what was sent")
            entry.message_seq = message.seq
            result = (message.seq, entry.sent_at, entry.stats)
        if len(self.frame_cache) >= self.CACHE_LIMIT:
            self.frame_cache.clear()
        self.frame_cache[payload] = result
        return result

    def _check_change(self, payload: bytes, seq: int, key: object) -> tuple[int, float, StepStats]:
        """An edit or a reaction: numbered like messages, timed from the request's sending."""
        entry = self.changes.pop(key, None)
        stats = self.unattributed if entry is None else entry.stats
        result = (seq, perf_counter() if entry is None else entry.sent_at, stats)
        self.frame_cache[payload] = result
        return result

    def _check_ack(self, ack: frames.AckFrame) -> None:
        now = perf_counter()
        entry = self.sent.get(ack.client_id)
        if entry is None or entry.ack_seq is not None or ack.message.client_id != ack.client_id:
            (entry.stats if entry else self.unattributed).bad_acks += 1
            self.note_violation(f"unexpected ack for {ack.client_id}")
            return
        entry.ack_seq = ack.message.seq
        if entry.message_seq is not None and entry.message_seq != entry.ack_seq:
            entry.stats.bad_acks += 1
            self.note_violation(f"ack seq {entry.ack_seq} != message seq {entry.message_seq}")
        entry.stats.acks += 1
        entry.stats.ack_latencies.append(now - entry.sent_at)

    def note_violation(self, text: str) -> None:
        if len(self.protocol_violations) < 50:
            self.protocol_violations.append(text)


class Person:
    """One logged-in browser tab: a session and one socket in one room."""

    def __init__(
        self,
        *,
        index: int,
        name: str,
        session: str | None,
        room_id: int,
        ledger: Ledger,
        measured: bool = True,
        keep_seqs: bool = False,
    ):
        self.index = index
        self.name = name
        self.session = session
        self.room_id = room_id
        self.ledger = ledger
        self.measured = measured  # counts toward latency and loss (not the slow reader)
        self.last_seq = 0  # the highest seq seen on this socket (rooms start empty)
        self.seqs: list[int] | None = [] if keep_seqs else None
        self.audience = 0  # measured sockets in this person's room, the sender's own included
        # (sync.result frame, its size in bytes), as they arrive
        self.sync_results: asyncio.Queue[tuple[frames.SyncResultFrame, int]] = asyncio.Queue()
        self.websocket: wsclient.RawWebSocket | None = None
        self.current_stats: StepStats | None = None  # where a close is counted

    async def open(self, server: Server, *, receive_buffer: int | None = None) -> None:
        self.websocket = await wsclient.connect(
            host=server.host,
            port=server.port,
            path=f"/ws/rooms/{self.room_id}/",
            headers=server.socket_headers(self.session),
            on_text=self.on_text,
            receive_buffer=receive_buffer,
        )
        self.websocket.closed.add_done_callback(self._on_closed)

    def _on_closed(self, _: asyncio.Future) -> None:
        if self.current_stats is not None and self.measured:
            self.current_stats.sockets_closed += 1

    def on_text(self, payload: bytes, received_at: float) -> None:
        # The hot path: runs once per delivery.
        entry = self.ledger.frame_cache.get(payload)
        if entry is None:
            entry = self.ledger.first_sight(payload, self)
            if entry is None:
                return
        seq, sent_at, stats = entry
        if self.seqs is not None:
            self.seqs.append(seq)
        last = self.last_seq
        if not self.measured:  # watched by its scenario, not counted in the step
            self.last_seq = max(last, seq)
            return
        if seq <= last:
            # A repeat, or one that arrives after a later one: either way not a delivery.
            stats.duplicates += 1
            return
        if seq != last + 1:
            stats.gaps += seq - last - 1
        self.last_seq = seq
        if stats.counting_closed:
            stats.late += 1
        else:
            stats.delivered += 1
            stats.latencies.append(received_at - sent_at)
            stats.last_delivery_at = received_at

    def send_message(self, stats: StepStats) -> str:
        client_id = self.ledger.new_client_id(self.index)
        text = f"{client_id} from {self.name}: {MESSAGE_TEXT}"
        payload = frames.encode_client_frame(frames.SendMessage(client_id=client_id, text=text))
        self.ledger.sent[client_id] = Sent(perf_counter(), stats, text)
        stats.sent += 1
        stats.expected += self.audience
        assert self.websocket is not None
        self.websocket.send_text(payload)
        return client_id

    def send_change(self, stats: StepStats, frame, key: object) -> None:
        """An edit or a reaction (see Ledger.changes); `frame` carries its client id."""
        entry = Sent(perf_counter(), stats, "")
        self.ledger.changes[key] = entry
        self.ledger.change_requests[frame.client_id] = entry
        stats.sent += 1
        stats.expected += self.audience
        assert self.websocket is not None
        self.websocket.send_text(frames.encode_client_frame(frame))

    def send_typing(self) -> None:
        assert self.websocket is not None
        self.websocket.send_text(frames.encode_client_frame(frames.Typing()))

    async def sync(
        self, after_seq: int, timeout: float = 30.0
    ) -> tuple[list[frames.WireMessage], int]:
        """Catch up as a reconnecting browser does: `sync` until `has_more` is false.
        Returns the messages and the bytes of the answers."""
        assert self.websocket is not None
        messages: list[frames.WireMessage] = []
        size = 0
        while True:
            self.websocket.send_text(frames.encode_client_frame(frames.Sync(after_seq=after_seq)))
            result, result_size = await asyncio.wait_for(self.sync_results.get(), timeout)
            messages += result.messages
            size += result_size
            if not result.has_more or not result.events:
                return messages, size
            after_seq = result.last_seq

    def close(self) -> None:
        if self.websocket is not None:
            self.current_stats = None
            self.websocket.abort()


async def bounded_gather(
    jobs: Iterable[Callable[[], object]], limit: int, *, return_exceptions: bool = False
) -> list:
    """Run coroutine factories at most `limit` at a time."""
    gate = asyncio.Semaphore(limit)

    async def run(job):
        async with gate:
            return await job()

    return await asyncio.gather(*(run(job) for job in jobs), return_exceptions=return_exceptions)


async def join_people(
    server: Server,
    ledger: Ledger,
    rooms: dict[str, int],
    *,
    concurrency: int = 20,
    keep_seqs: bool = False,
) -> list[Person]:
    """Log in `rooms[name]` people into each room (front page form on the product)."""
    plan = [(room, n) for room, count in rooms.items() for n in range(count)]
    run_tag = time.strftime("%H%M%S")

    def join_job(index: int, room: str):
        async def job():
            name = f"bench {run_tag} {index}"
            session, room_id = await server.join(name=name, room=room)
            return Person(
                index=index,
                name=name,
                session=session,
                room_id=room_id,
                ledger=ledger,
                keep_seqs=keep_seqs,
            )

        return job

    people = await bounded_gather(
        (join_job(index, room) for index, (room, _) in enumerate(plan)), concurrency
    )
    count_audiences(people)
    return people


def count_audiences(people: list[Person]) -> None:
    by_room: dict[int, int] = {}
    for person in people:
        if person.measured:
            by_room[person.room_id] = by_room.get(person.room_id, 0) + 1
    for person in people:
        person.audience = by_room.get(person.room_id, 0)


async def open_sockets(
    server: Server, people: list[Person], *, concurrency: int = 50
) -> list[BaseException]:
    """Open everyone's socket, `concurrency` handshakes at a time; the failures."""
    outcomes = await bounded_gather(
        ((lambda p=p: p.open(server)) for p in people), concurrency, return_exceptions=True
    )
    return [outcome for outcome in outcomes if isinstance(outcome, BaseException)]


class CpuMeter:
    """CPU used over a stretch of time, each as a fraction of one core: the load generator
    (this process), the server, and whatever else ran on the machine meanwhile (other
    processes, or steal by the hypervisor), which would make the figures suspect."""

    def __init__(self, server: Server):
        self.server = server

    def __enter__(self) -> CpuMeter:
        self.wall = perf_counter()
        self.own = time.process_time()
        self.server_cpu = self.server.cpu_seconds()
        self.machine = psutil.cpu_times()
        return self

    def __exit__(self, *_: object) -> None:
        wall = perf_counter() - self.wall
        self.loadgen_fraction = (time.process_time() - self.own) / wall
        self.server_fraction = (self.server.cpu_seconds() - self.server_cpu) / wall
        machine = psutil.cpu_times()
        # Process time excludes interrupt handling, so leave irq/softirq out of "busy" too.
        busy = sum(
            getattr(machine, name) - getattr(self.machine, name)
            for name in ("user", "nice", "system")
        )
        self.other_fraction = max(0.0, busy / wall - self.loadgen_fraction - self.server_fraction)
        self.steal_fraction = (machine.steal - self.machine.steal) / wall

    def record(self, stats: StepStats) -> None:
        stats.loadgen_cpu, stats.server_cpu = self.loadgen_fraction, self.server_fraction
        stats.other_cpu, stats.steal = self.other_fraction, self.steal_fraction


async def wait_for(condition: Callable[[], bool], timeout: float, poll: float = 0.01) -> bool:
    deadline = perf_counter() + timeout
    while not condition():
        if perf_counter() >= deadline:
            return False
        await asyncio.sleep(poll)
    return True


async def send_paced(senders: list[Person], rate: float, seconds: float, stats: StepStats):
    """Send `rate` messages a second for `seconds`, round-robin over `senders`.

    Open loop, as people type: nobody waits for an ack before the next message. Every
    tick sends whatever is due by now, so a late tick catches up instead of lowering the
    rate.
    """
    total = round(rate * seconds)
    started = perf_counter()
    sent = 0
    while sent < total:
        due = min(total, int((perf_counter() - started) * rate) + 1)
        while sent < due:
            senders[sent % len(senders)].send_message(stats)
            sent += 1
        await asyncio.sleep(0.002)
    stats.seconds = perf_counter() - started


async def run_step(
    server: Server,
    people: list[Person],
    senders: list[Person],
    *,
    label: str,
    rate: float,
    seconds: float,
    grace: float = 2.0,
    drain: float = 10.0,
) -> StepStats:
    """One step at a fixed send rate; loss is counted when the grace period ends."""
    stats = StepStats(label, rate=rate)
    for person in people:
        person.current_stats = stats
    with CpuMeter(server) as cpu:
        await send_paced(senders, rate, seconds, stats)
    cpu.record(stats)
    await wait_for(lambda: stats.delivered >= stats.expected and stats.acks >= stats.sent, grace)
    stats.counting_closed = True
    # Let a backlog clear (uncounted) so that it does not spill into the next step.
    await wait_for(lambda: stats.delivered + stats.late >= stats.expected, drain)
    return stats
