"""Clients that strain a worker: hundreds reconnecting at once, one that stops reading,
one idle past every timeout, while a crowd posts."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect

from bench.httpclient import join
from tests.faults.cluster import cluster
from tests.faults.crowd import REPORTS, Crowd, check, percentiles

pytestmark = pytest.mark.faults

STORM_SOCKETS = 300


async def test_a_reconnect_storm_on_one_worker_neither_loses_nor_starves_live_posts(
    template, tmp_path
):
    with cluster(tmp_path, template) as deployment:
        stormed, calm = deployment.workers
        crowd = await Crowd.gather(lambda: deployment.workers, 20, interval=0.5)
        await asyncio.to_thread(
            deployment.manage, "seed_room", "storm history", "2000", "--sender", "Archivist"
        )
        sessions = []
        for number in range(STORM_SOCKETS // 10):  # ten tabs each
            session, history_room = await join(
                stormed.host, stormed.port, name=f"storm-{number}", room="storm history"
            )
            sessions.append(session)
        await crowd.start()
        await crowd.talk()

        async def reconnect(session: str) -> int:
            """What a tab does after its worker restarted: open, catch up, carry on."""
            async with connect(
                stormed.socket_url(history_room),
                origin=stormed.origin,
                additional_headers={"Cookie": f"sessionid={session}"},
                open_timeout=60,
            ) as socket:
                await socket.send(json.dumps({"type": "sync", "after_seq": 1900}))
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
                    if frame["type"] == "sync.result":
                        return len(frame["events"])

        storm_started = time.monotonic()
        caught_up = await asyncio.gather(
            *(reconnect(sessions[n % len(sessions)]) for n in range(STORM_SOCKETS))
        )
        storm_seconds = time.monotonic() - storm_started
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "storm")
    assert caught_up == [100] * STORM_SOCKETS
    during = {
        port: [
            seconds
            for person in crowd.people
            for client_id, seconds in person.acked.items()
            if person.acked_by[client_id] == port
            and storm_started <= person.transmitted_at[client_id] <= storm_started + storm_seconds
        ]
        for port in (stormed.port, calm.port)
    }
    REPORTS.append(
        f"storm: {STORM_SOCKETS} sockets opened and caught up in {storm_seconds:.1f} s; "
        f"acks meanwhile on the stormed worker {percentiles(during[stormed.port])}, "
        f"on the other {percentiles(during[calm.port])}"
    )


async def test_a_reader_that_stops_reading_is_closed_catches_up_and_slows_nobody(
    template, tmp_path
):
    quick_to_give_up = {"CHAT_SOCKET_BACKLOG": "20", "CHAT_LOG_LEVEL": "INFO"}
    with cluster(tmp_path, template, workers=1, **quick_to_give_up) as deployment:
        worker = deployment.workers[0]
        crowd = await Crowd.gather(lambda: deployment.workers, 10, interval=0.25)
        for person in crowd.people:
            person.padding = 1000  # 2 kB messages fill a stalled reader's buffers sooner
        slow = crowd.people[0]
        slow.receive_buffer = 4096
        await crowd.start()
        slow.stop_reading()
        closing = "closing a socket whose client stopped reading"
        deadline = time.monotonic() + 60
        while closing not in worker.log_path.read_text() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert closing in worker.log_path.read_text(), "the server gave up on the stalled reader"
        others = [p for p in crowd.people if p is not slow]
        await crowd.talk(20, people=others)  # everyone else kept receiving
        slow.resume_reading()
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "stalled reader")
    assert slow.closes[1013] == 1
    assert slow.connections == 2


IDLE_SECONDS = 35  # past uvicorn's 20 s ping interval and Redis's 30 s socket timeout


async def test_a_socket_idle_past_every_timeout_still_receives_live(template, tmp_path):
    with cluster(tmp_path, template) as deployment:
        first, second = deployment.workers
        crowd = await Crowd.gather(lambda: deployment.workers, 2, interval=3600)
        idle, talker = crowd.people  # idle prefers worker 1, the talker worker 2
        crowd._posting = False  # nobody says anything on their own
        await crowd.start()
        await asyncio.sleep(IDLE_SECONDS)
        talker.say_something()
        deadline = time.monotonic() + 10
        while idle.live_frames == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "idle 35 s")
    assert idle.live_frames == 1, "it came live, not through a catch-up"
    assert idle.ports == [first.port], "on the socket that sat idle"
    assert talker.ports == [second.port], "from the other worker, through Redis"
