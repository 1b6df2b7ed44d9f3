"""The six scenarios of bench/README.md. Each takes a started server and the options and
returns a JSON-able dict; the runner starts a fresh server for each.
"""

from __future__ import annotations

import asyncio
import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

from bench import httpclient, loadgen, profiling
from bench.loadgen import CpuMeter, Ledger, Person, StepStats
from bench.servers import ProductServer, Server

ONE_ROOM_RATES = [100, 200, 400, 600, 800, 1000, 1250, 1500, 2000, 2500, 3000, 3500, 4000]
MANY_ROOMS_RATES = [200, 500, 1000, 1500, 2000, 2500, 3000, 4000, 5000, 6000, 8000, 10000]
# A client on a slow link: its kernel takes a few kB, not the megabytes loopback allows,
# so the server's own bounded buffer is what fills up (see wsclient.connect).
SLOW_READER_RECEIVE_BUFFER = 16 * 1024


@dataclass
class Options:
    step_seconds: float = 10.0
    grace_seconds: float = 2.0  # after a step's last message, for stragglers
    failures_to_stop: int = 2  # consecutive failing steps end a climb
    one_room_rates: list[float] = field(default_factory=lambda: list(ONE_ROOM_RATES))
    many_rooms_rates: list[float] = field(default_factory=lambda: list(MANY_ROOMS_RATES))
    idle_connections: int = 2000
    idle_rooms: int = 20
    idle_concurrency: int = 100  # handshakes in flight at once
    history_small: int = 550
    history_large: int = 100_000
    history_runs: int = 20
    catch_up: int = 500
    burst_people: int = 20
    burst_senders: int = 4
    burst_messages: int = 400  # per sender
    # About 3,000 messages (~700 kB) fill the kernel buffers plus a 1,000-frame server
    # backlog; at 400 msg/s that is ~7 s, well inside the step.
    slow_reader_rate: float = 400
    slow_reader_seconds: float = 15.0
    flood_rate: float = 100  # frames a second from the one flooding client
    flood_others_rate: float = 40  # messages a second from ten people, in all
    mixed_message_rate: float = 100  # messages a second from ten people, in all
    mixed_edit_rate: float = 10  # edits a second, of their senders' own recent messages
    mixed_reaction_rate: float = 30  # reactions added or taken back a second, by ten others
    profile_seconds: int = 10
    profile_to: Path | None = None  # where the one-room product profile goes (no suffix)


def log(text: str) -> None:
    print(text, flush=True)


def step_line(kind: str, summary: dict) -> str:
    latency = summary["latency_ms"]

    def ms(value):
        return "-" if value is None else f"{value:.1f}"

    verdict = "pass" if summary["passed"] else "FAIL"
    # Arrived after the grace period: lost for the verdict, but not gone.
    late = f" ({summary['late']} late)" if summary["late"] else ""
    notes = []
    if summary["loadgen_bound"]:
        notes.append("loadgen-bound")
    if summary["other_cpu"] > 0.1 or summary["steal"] > 0.05:
        notes.append(f"noisy: other {summary['other_cpu']:.0%} steal {summary['steal']:.0%}")
    problems = {
        name: summary[name]
        for name in ("gaps", "duplicates", "bad_acks", "bad_messages", "sockets_closed")
        if summary[name]
    }
    if summary["errors"]:
        problems["errors"] = summary["errors"]
    if summary["acks"] != summary["sent"]:
        problems["acks"] = f"{summary['acks']}/{summary['sent']}"
    if problems:
        notes.append(str(problems))
    return (
        f"  {kind:9} {summary['rate']:>7g}/s sent {summary['sent']:>6} "
        f"delivered {summary['delivered']:>8}/{summary['expected_deliveries']:<8} "
        f"lost {summary['lost']:>7}{late}  p50 {ms(latency['p50']):>7} p95 {ms(latency['p95']):>7} "
        f"p99 {ms(latency['p99']):>7} max {ms(latency['max']):>7} ms  "
        f"loadgen {summary['loadgen_cpu']:4.0%} server {summary['server_cpu']:4.0%}  "
        f"{verdict} {' '.join(notes)}"
    )


async def climb(
    server: Server,
    people: list[Person],
    senders: list[Person],
    rates: list[float],
    options: Options,
) -> dict:
    """Rising send rates until `failures_to_stop` steps in a row fail."""
    steps: list[dict] = []
    failures_in_a_row = 0
    for rate in rates:
        stats = await loadgen.run_step(
            server,
            people,
            senders,
            label=f"{rate:g}/s",
            rate=rate,
            seconds=options.step_seconds,
            grace=options.grace_seconds,
        )
        server.check_alive()
        summary = stats.summary()
        steps.append(summary)
        log(step_line(server.kind, summary))
        if summary["sockets_closed"]:
            log(f"  {server.kind}: the server closed sockets under load; the climb stops here")
            break
        failures_in_a_row = 0 if summary["passed"] else failures_in_a_row + 1
        if failures_in_a_row >= options.failures_to_stop:
            break
        await asyncio.sleep(0.5)
    passing = [step for step in steps if step["passed"]]
    best = max(passing, key=lambda step: step["rate"]) if passing else None
    return {
        "steps": steps,
        "max_rate": best["rate"] if best else 0,
        # A pass at a loadgen-bound step says "at least": the server might do more.
        "max_rate_loadgen_bound": bool(best and best["loadgen_bound"]),
        "p99_ms_at_max": best["latency_ms"]["p99"] if best else None,
    }


def close_all(people: list[Person]) -> None:
    for person in people:
        person.close()


async def open_all(server: Server, people: list[Person]) -> None:
    failures = await loadgen.open_sockets(server, people)
    if failures:
        raise RuntimeError(f"{len(failures)} sockets failed to open, first: {failures[0]!r}")


# (1) one room x 50 people, one sender


async def one_room(server: Server, options: Options) -> dict:
    ledger = Ledger()
    people = await loadgen.join_people(server, ledger, {"bench one room": 50})
    await open_all(server, people)
    senders = [people[0]]
    result = await climb(server, people, senders, options.one_room_rates, options)
    if options.profile_to is not None and isinstance(server, ProductServer):
        rate = result["max_rate"] or options.one_room_rates[0]
        result["profile"] = await profile_at_rate(server, people, senders, rate, options)
    close_all(people)
    result["violations"] = ledger.protocol_violations
    return result


async def profile_at_rate(
    server: Server, people: list[Person], senders: list[Person], rate: float, options: Options
) -> dict:
    """Send at `rate` again while py-spy samples the server."""
    assert options.profile_to is not None
    log(f"  profiling the product at {rate:g} msg/s for {options.profile_seconds} s (py-spy)")
    raw_path = options.profile_to.with_name(options.profile_to.name + "-profile.txt")
    recorder = await profiling.start_py_spy(server.pid, raw_path, options.profile_seconds)
    await asyncio.sleep(0.5)  # py-spy attaches before the load starts
    stats = await loadgen.run_step(
        server,
        people,
        senders,
        label=f"profile {rate:g}/s",
        rate=rate,
        seconds=options.profile_seconds + 1,
        grace=options.grace_seconds,
    )
    summary = stats.summary()
    log(step_line(server.kind, summary) + "  (under py-spy)")
    py_spy_output = await profiling.finish_py_spy(recorder)
    if not raw_path.exists():
        return {"rate": rate, "error": f"py-spy wrote no profile: {py_spy_output}"}
    speedscope_path = options.profile_to.with_name(
        options.profile_to.name + "-profile.speedscope.json"
    )
    stacks = profiling.read_collapsed(raw_path)
    profiling.write_speedscope(stacks, speedscope_path, name=f"product at {rate:g} msg/s")
    return {
        "rate": rate,
        "step": summary,
        "raw": raw_path.name,
        "speedscope": speedscope_path.name,
        **profiling.top_functions(stacks, count=15),
    }


# (2) 20 rooms x 10 people, everyone sending


async def many_rooms(server: Server, options: Options) -> dict:
    ledger = Ledger()
    rooms = {f"bench room {number:02d}": 10 for number in range(1, 21)}
    people = await loadgen.join_people(server, ledger, rooms)
    await open_all(server, people)
    result = await climb(server, people, people, options.many_rooms_rates, options)
    close_all(people)
    result["violations"] = ledger.protocol_violations
    return result


# (3) idle logged-in connections


async def idle(server: Server, options: Options) -> dict:
    ledger = Ledger()
    per_room = options.idle_connections // options.idle_rooms
    rooms = {f"bench idle {number:02d}": per_room for number in range(1, options.idle_rooms + 1)}
    log(f"  {server.kind}: logging in {per_room * options.idle_rooms} people (not timed)")
    people = await loadgen.join_people(server, ledger, rooms)
    # The first socket imports and builds what every later one reuses; keep that out.
    warm_up = Person(
        index=-1,
        name="warm-up",
        session=people[0].session,
        room_id=people[0].room_id,
        ledger=ledger,
    )
    await warm_up.open(server)
    warm_up.close()
    await asyncio.sleep(1.0)
    rss_before = server.rss_bytes()
    started = perf_counter()
    with CpuMeter(server) as cpu:
        failures = await loadgen.open_sockets(server, people, concurrency=options.idle_concurrency)
    connect_seconds = perf_counter() - started
    await asyncio.sleep(2.0)  # let the server settle before reading its memory
    rss_after = server.rss_bytes()
    still_open = sum(1 for person in people if person.websocket and person.websocket.is_open)
    close_all(people)
    opened = len(people) - len(failures)
    return {
        "connections": len(people),
        "opened": opened,
        "still_open_after_settle": still_open,
        "failures": [repr(failure) for failure in failures[:5]],
        "connect_seconds": round(connect_seconds, 3),
        "connect_concurrency": options.idle_concurrency,
        "server_cpu_while_connecting": round(cpu.server_fraction, 3),
        "loadgen_cpu_while_connecting": round(cpu.loadgen_fraction, 3),
        "rss_before_mb": round(rss_before / 2**20, 1),
        "rss_after_mb": round(rss_after / 2**20, 1),
        "kb_per_connection": round((rss_after - rss_before) / 1024 / max(opened, 1), 2),
    }


# (4) history: a small room against a room of 100,000 messages

PAGE_CONFIG = re.compile(rb'<script id="chat-config" type="application/json">(.*?)</script>', re.S)


async def history(server: Server, options: Options) -> dict:
    """Opening a room, one older page and a catch-up of `catch_up` missed messages, in a
    small room and a large one. The small room has `history_small` messages (550 by
    default): the fewest from which one can miss 500 and still page back 50, so both
    rooms serve the same amount of data and only their size differs."""
    assert isinstance(server, ProductServer)
    rooms = {"bench history small": options.history_small}
    rooms["bench history large"] = options.history_large
    seeded = {}
    for name, count in rooms.items():
        log(f"  seeding {name!r} with {count} messages")
        seeded[name] = server.seed_room(name, count)
    ledger = Ledger()
    people = await loadgen.join_people(server, ledger, {name: 1 for name in rooms})
    for person, name in zip(people, rooms, strict=True):
        if person.room_id != seeded[name]:
            raise RuntimeError(f"joined room {person.room_id}, seeded {seeded[name]}")
    await open_all(server, people)

    timings: dict[str, dict[str, list[float]]] = {name: {} for name in rooms}
    sizes: dict[str, dict[str, int]] = {name: {} for name in rooms}

    async def measure(name: str, person: Person) -> None:
        cookie = {"Cookie": f"sessionid={person.session}"}
        page = await httpclient.request(
            server.host, server.port, "GET", f"/r/{person.room_id}/", headers=cookie
        )
        config_match = PAGE_CONFIG.search(page.body)
        if page.status != 200 or config_match is None:
            raise RuntimeError(f"room page gave {page.status}")
        config = json.loads(config_match.group(1))
        shown = page.body.count(b'data-seq="')
        older = await httpclient.request(
            server.host,
            server.port,
            "GET",
            f"/r/{person.room_id}/messages?before={config['firstSeq']}",
            headers=cookie,
        )
        older_count = len(json.loads(older.body)["messages"])
        started = perf_counter()
        missed, catch_up_bytes = await person.sync(config["lastSeq"] - options.catch_up)
        catch_up_seconds = perf_counter() - started
        expected_seqs = list(range(config["lastSeq"] - options.catch_up + 1, config["lastSeq"] + 1))
        if shown != 50 or older_count != 50 or [m.seq for m in missed] != expected_seqs:
            raise RuntimeError(
                f"{name}: page showed {shown}, older page {older_count}, "
                f"catch-up {len(missed)} messages (expected 50, 50, {options.catch_up})"
            )
        for operation, seconds, size in (
            ("page", page.seconds, len(page.body)),
            ("older_page", older.seconds, len(older.body)),
            ("catch_up", catch_up_seconds, catch_up_bytes),
        ):
            timings[name].setdefault(operation, []).append(seconds)
            sizes[name][operation] = size

    for _ in range(2):  # warm-up, not counted
        for name, person in zip(rooms, people, strict=True):
            await measure(name, person)
    timings = {name: {} for name in rooms}
    for _ in range(options.history_runs):
        # Interleaved, so that drift on the machine hits both rooms alike.
        for name, person in zip(rooms, people, strict=True):
            await measure(name, person)
    close_all(people)

    small, large = rooms
    result: dict = {"runs": options.history_runs, "rooms": dict(rooms), "operations": {}}
    for operation in ("page", "older_page", "catch_up"):
        entry = {}
        for label, name in (("small", small), ("large", large)):
            entry[label] = {
                "median_ms": round(statistics.median(timings[name][operation]) * 1000, 3),
                "bytes": sizes[name][operation],
            }
        entry["time_ratio"] = round(entry["large"]["median_ms"] / entry["small"]["median_ms"], 3)
        entry["bytes_ratio"] = round(entry["large"]["bytes"] / entry["small"]["bytes"], 3)
        result["operations"][operation] = entry
    return result


# (5) a burst: 4 senders x 400 messages as fast as they can


async def burst(server: Server, options: Options) -> dict:
    ledger = Ledger()
    people = await loadgen.join_people(
        server, ledger, {"bench burst": options.burst_people}, keep_seqs=True
    )
    await open_all(server, people)
    senders = people[: options.burst_senders]
    stats = StepStats("burst")
    for person in people:
        person.current_stats = stats
    started = perf_counter()
    with CpuMeter(server) as cpu:
        # Round-robin, so the four sockets' frames reach the server interleaved.
        for _ in range(options.burst_messages):
            for sender in senders:
                sender.send_message(stats)
        stats.seconds = perf_counter() - started
        finished = await loadgen.wait_for(
            lambda: stats.delivered >= stats.expected and stats.acks >= stats.sent,
            timeout=60,
            poll=0.001,
        )
    cpu.record(stats)
    stats.counting_closed = True
    total = options.burst_senders * options.burst_messages
    complete_sockets = sum(1 for person in people if person.seqs == list(range(1, total + 1)))
    acked_seqs = sorted(entry.ack_seq for entry in ledger.sent.values() if entry.ack_seq)
    close_all(people)
    summary = stats.summary()
    passed = (
        finished
        and complete_sockets == len(people)
        and acked_seqs == list(range(1, total + 1))
        and stats.violations == 0
    )
    return {
        "people": len(people),
        "senders": len(senders),
        "messages": total,
        "passed": passed,
        "seconds_to_last_delivery": round(stats.last_delivery_at - started, 3)
        if stats.delivered
        else None,
        "sockets_complete_in_order": complete_sockets,
        "lost": summary["lost"],
        "duplicates": summary["duplicates"],
        "gaps": summary["gaps"],
        "acks": summary["acks"],
        "distinct_acked_seqs": len(set(acked_seqs)),
        "latency_ms": summary["latency_ms"],
        "loadgen_cpu": summary["loadgen_cpu"],
        "server_cpu": summary["server_cpu"],
        "violations": ledger.protocol_violations,
    }


# (6) one client stops reading


class ServerSideWatch:
    """Watches the server's end of one TCP connection in /proc/net/tcp, to see when the
    server gave the connection up even while the client, not reading, cannot tell."""

    ESTABLISHED = "01"

    def __init__(self, server_port: int, client_port: int):
        self.local = f":{server_port:04X}"
        self.remote = f":{client_port:04X}"
        self.started = perf_counter()
        self.left_established_after: float | None = None
        self.state_seen: str | None = None
        self._task = asyncio.create_task(self._watch())

    def _state(self) -> str | None:
        for path in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(path).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[1].endswith(self.local) and fields[2].endswith(self.remote):
                    return fields[3]
        return None

    async def _watch(self) -> None:
        while True:
            state = self._state()
            if state != self.ESTABLISHED:
                self.left_established_after = perf_counter() - self.started
                self.state_seen = state or "gone"
                return
            await asyncio.sleep(0.05)

    def stop(self) -> None:
        self._task.cancel()


async def slow_reader(server: Server, options: Options) -> dict:
    ledger = Ledger()
    people = await loadgen.join_people(server, ledger, {"bench slow reader": 50})
    slow, others = people[-1], people[:-1]
    slow.measured = False
    slow.seqs = []
    loadgen.count_audiences(people)
    await open_all(server, others)
    await slow.open(server, receive_buffer=SLOW_READER_RECEIVE_BUFFER)
    assert slow.websocket is not None
    watch = ServerSideWatch(server.port, slow.websocket.local_port)
    slow.websocket.pause_reading()
    paused_at = perf_counter()
    stats = await loadgen.run_step(
        server,
        people,
        [others[0]],
        label="slow reader",
        rate=options.slow_reader_rate,
        seconds=options.slow_reader_seconds,
        grace=options.grace_seconds,
    )
    summary = stats.summary()
    log(step_line(server.kind, summary) + "  (everyone but the slow reader)")
    total = stats.sent

    # The client reads again: whatever the server had sent arrives, then perhaps a close.
    slow.websocket.resume_reading()
    resumed_at = perf_counter()
    await loadgen.wait_for(
        lambda: slow.websocket.closed.done() or slow.last_seq >= total, timeout=10
    )
    watch.stop()
    closed = slow.websocket.closed.done()
    live_seqs = list(slow.seqs)
    contiguous = 0
    for seq in live_seqs:
        if seq != contiguous + 1:
            break
        contiguous = seq
    send_time_by_seq = {
        entry.ack_seq: entry.sent_at for entry in ledger.sent.values() if entry.ack_seq
    }
    # The first message it never got live was sent about when the server stopped writing.
    first_missing_sent = send_time_by_seq.get(contiguous + 1)
    result: dict = {
        "others": summary,
        "slow_reader": {
            "paused_seconds": round(resumed_at - paused_at, 2),
            "messages_in_room": total,
            "received_live": len(live_seqs),
            "live_in_order_up_to": contiguous,
            "closed_by_server": closed,
            "close_code": slow.websocket.close_code
            if slow.websocket.close_code is not None
            else (1006 if closed else None),
            "close_reason": slow.websocket.close_reason,
            "stopped_getting_messages_after_s": round(first_missing_sent - paused_at, 2)
            if first_missing_sent is not None
            else None,
            "server_tcp_left_established_after_s": round(watch.left_established_after, 2)
            if watch.left_established_after is not None
            else None,
            "server_tcp_state": watch.state_seen,
        },
    }
    # It comes back, as a browser does after a 1013: a new socket, then `sync`.
    if closed:
        slow.current_stats = None
        slow.seqs = []
        slow.last_seq = contiguous
        await slow.open(server)
        missed, _ = await slow.sync(contiguous)
        shown = live_seqs[:contiguous] + [message.seq for message in missed]
    else:
        shown = [seq for index, seq in enumerate(live_seqs) if seq == index + 1]
    result["slow_reader"]["caught_up_by_sync"] = len(shown) - contiguous if closed else 0
    result["slow_reader"]["ends_with_every_message_once"] = shown == list(range(1, total + 1))
    close_all(people)
    result["passed"] = (
        summary["passed"]
        and result["slow_reader"]["ends_with_every_message_once"]
        and result["slow_reader"]["close_code"] == 1013
    )
    result["violations"] = ledger.protocol_violations
    return result


# (7) one client floods the room with message frames; the rest talk as people do


async def flood(server: Server, options: Options) -> dict:
    """Ten people talk in a room of 50 at `flood_others_rate` in all, each well inside a
    person's limit, for one step without a flood and one with a person sending
    `flood_rate` message frames a second. The product runs with the real per-person limit
    (SERVER_ENV): the flooder gets `rate_limited` for most frames. The others' latency in
    the two steps says what the flood costs them."""
    ledger = Ledger()
    ledger.expected_errors = {"rate_limited"}  # the flooder's, on purpose
    people = await loadgen.join_people(server, ledger, {"bench flood": 51})
    flooder, others = people[-1], people[:-1]
    flooder.measured = False
    loadgen.count_audiences(people)
    await open_all(server, people)
    senders = others[:10]
    steps = {}
    for label, flooding in (("without a flood", False), ("with a flood", True)):
        flood_stats = StepStats("flood")
        flooder.current_stats = flood_stats
        flood_task = (
            asyncio.ensure_future(
                loadgen.send_paced(
                    [flooder], options.flood_rate, options.step_seconds + 1, flood_stats
                )
            )
            if flooding
            else None
        )
        stats = await loadgen.run_step(
            server,
            others,
            senders,
            label=label,
            rate=options.flood_others_rate,
            seconds=options.step_seconds,
            grace=options.grace_seconds,
        )
        if flood_task is not None:
            await flood_task
        summary = stats.summary()
        log(step_line(server.kind, summary) + f"  ({label})")
        steps[label] = {
            "others": summary,
            "flooder": {
                "sent": flood_stats.sent,
                "stored": flood_stats.acks,
                "refused": dict(flood_stats.errors),
            },
        }
        await asyncio.sleep(options.grace_seconds)  # the flood's window passes
    close_all(people)
    quiet, loud = steps["without a flood"], steps["with a flood"]
    return {
        **steps,
        "others_p99_ms_without": quiet["others"]["latency_ms"]["p99"],
        "others_p99_ms_with": loud["others"]["latency_ms"]["p99"],
        "passed": quiet["others"]["passed"] and loud["others"]["passed"],
        "violations": ledger.protocol_violations,
    }


# (8) a room where people do more than post

# One emoji per reacting person: each (message, emoji) is only ever theirs, so the event
# says exactly whether it is there, and names the request it answers.
MIXED_EMOJI = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀", "🔥", "✅"]


async def mixed(server: Server, options: Options) -> dict:
    """Fifty people in a room: ten post `mixed_message_rate` messages a second in all, one
    step with nothing else and one where, meanwhile, the senders edit their own recent
    messages, ten others add and take back reactions, and every sender says it is typing
    every 3 s. Edits and reactions are numbered events like messages: every socket checks
    one gapless sequence across all kinds. The difference between the steps is what the
    rest of a chat costs the messages."""
    ledger = Ledger()
    people = await loadgen.join_people(server, ledger, {"bench mixed": 50})
    loadgen.count_audiences(people)
    await open_all(server, people)
    senders, reactors = people[:10], people[10:20]
    steps: dict[str, dict] = {}
    for label, mixing in (("messages only", False), ("with edits, reactions and typing", True)):
        changes = StepStats("changes")
        extras = (
            [
                asyncio.ensure_future(_edit_and_react(ledger, senders, reactors, changes, options)),
                asyncio.ensure_future(_keep_typing(senders, options.step_seconds)),
            ]
            if mixing
            else []
        )
        stats = await loadgen.run_step(
            server,
            people,
            senders,
            label=label,
            rate=options.mixed_message_rate,
            seconds=options.step_seconds,
            grace=options.grace_seconds,
        )
        await asyncio.gather(*extras)
        await loadgen.wait_for(
            lambda changes=changes: (
                changes.delivered >= changes.expected and changes.acks >= changes.sent
            ),
            options.grace_seconds,
        )
        changes.counting_closed = True
        summary = stats.summary()
        log(step_line(server.kind, summary) + f"  ({label})")
        steps[label] = {"messages": summary}
        if mixing:
            change_summary = changes.summary()
            log(step_line(server.kind, change_summary) + "  (the edits and reactions)")
            steps[label]["changes"] = change_summary
    close_all(people)
    quiet, mixed_step = steps["messages only"], steps["with edits, reactions and typing"]
    return {
        **steps,
        "messages_p99_ms_alone": quiet["messages"]["latency_ms"]["p99"],
        "messages_p99_ms_mixed": mixed_step["messages"]["latency_ms"]["p99"],
        "changes_p99_ms": mixed_step["changes"]["latency_ms"]["p99"],
        "server_cpu_alone": quiet["messages"]["server_cpu"],
        "server_cpu_mixed": mixed_step["messages"]["server_cpu"],
        "passed": quiet["messages"]["passed"]
        and mixed_step["messages"]["passed"]
        and mixed_step["changes"]["passed"],
        "violations": ledger.protocol_violations,
    }


async def _edit_and_react(
    ledger: Ledger,
    senders: list[Person],
    reactors: list[Person],
    stats: StepStats,
    options: Options,
) -> None:
    """Edits and reactions, paced together, on messages stored in the last moments."""
    from bench import frames

    rate = options.mixed_edit_rate + options.mixed_reaction_rate
    total = round(rate * options.step_seconds)
    edit_every = max(1, round(rate / options.mixed_edit_rate)) if options.mixed_edit_rate else 0
    given: dict[int, list[int]] = {index: [] for index in range(len(reactors))}
    started = perf_counter()
    done = 0
    while done < total:
        due = min(total, int((perf_counter() - started) * rate) + 1)
        recent = [
            (client_id, entry.ack_seq)
            for client_id, entry in list(ledger.sent.items())[-200:]
            if entry.ack_seq is not None
        ]
        while done < due and recent:
            if edit_every and done % edit_every == 0:
                client_id, seq = recent[-1 - done % len(recent)]
                owner = senders[int(client_id[1:].split("-")[0]) % len(senders)]
                change_id = ledger.new_client_id(owner.index)
                frame = frames.EditMessage(
                    client_id=change_id,
                    message_seq=seq,
                    text=f"{change_id} edited: {loadgen.MESSAGE_TEXT}",
                )
                owner.send_change(stats, frame, change_id)
            else:
                index = done % len(reactors)
                reactor, emoji, mine = reactors[index], MIXED_EMOJI[index], given[index]
                oldest = mine[0] if mine else None
                change_id = ledger.new_client_id(reactor.index)
                if (
                    oldest is not None
                    and len(mine) > 3
                    and (oldest, emoji, True) not in ledger.changes
                ):
                    mine.pop(0)
                    take_back = frames.RemoveReaction(
                        client_id=change_id, message_seq=oldest, emoji=emoji
                    )
                    reactor.send_change(stats, take_back, (oldest, emoji, False))
                else:
                    seq = next((s for _, s in reversed(recent) if s not in mine), None)
                    if seq is None:
                        break
                    mine.append(seq)
                    add = frames.AddReaction(client_id=change_id, message_seq=seq, emoji=emoji)
                    reactor.send_change(stats, add, (seq, emoji, True))
            done += 1
        await asyncio.sleep(0.002)
    stats.seconds = perf_counter() - started


async def _keep_typing(people: list[Person], seconds: float) -> None:
    started = perf_counter()
    while perf_counter() - started < seconds:
        for person in people:
            person.send_typing()
        await asyncio.sleep(3.0)


Scenario = Callable[[Server, Options], object]
SCENARIOS: dict[str, Scenario] = {
    "one-room": one_room,
    "many-rooms": many_rooms,
    "idle": idle,
    "history": history,
    "burst": burst,
    "slow-reader": slow_reader,
    "flood": flood,
    "mixed": mixed,
}
# Settings a scenario runs the product with, over the benchmark's lifted limits.
SERVER_ENV: dict[str, dict[str, str]] = {
    # A person's real message limit (the defaults); addresses stay unlimited, since every
    # benchmark client comes from 127.0.0.1.
    "flood": {"CHAT_RATE_BURST": "20", "CHAT_RATE_PER_SECOND": "5"},
}
# The reference stores nothing, so it has no history to compare.
PRODUCT_ONLY = {"history", "mixed"}
