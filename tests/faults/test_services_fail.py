"""The services under the workers fail: Redis stops and starts again, PostgreSQL becomes
unreachable, and the connection to PostgreSQL is cut right after a COMMIT, while a crowd
posts through both workers."""

from __future__ import annotations

import asyncio
import json
import secrets

import pytest
from websockets.asyncio.client import ClientConnection, connect

from bench.httpclient import join
from tests.faults.cluster import cluster
from tests.faults.crowd import Crowd, check

pytestmark = pytest.mark.faults


async def test_redis_stopped_for_five_seconds_and_restarted_loses_nothing(template, tmp_path):
    with cluster(tmp_path, template) as deployment:
        crowd = await Crowd.gather(lambda: deployment.workers, 20, interval=0.5)
        await crowd.start()
        await crowd.talk()
        await asyncio.to_thread(deployment.redis.stop)
        await asyncio.sleep(5)  # each worker's own people still hear each other
        await asyncio.to_thread(deployment.redis.start)  # empty: it kept nothing
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "Redis 5 s away")


async def test_postgres_unreachable_for_five_seconds_loses_nothing_and_fails_nothing_after(
    template, tmp_path
):
    with cluster(tmp_path, template) as deployment:
        crowd = await Crowd.gather(lambda: deployment.workers, 20, interval=0.5)
        await crowd.start()
        await crowd.talk()
        deployment.postgres.cut_and_refuse()
        await asyncio.sleep(5)
        deployment.postgres.restore()
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        restored_at = crowd.fault_over_at
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        tally = check(
            crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "PostgreSQL 5 s away"
        )
    # Once PostgreSQL is back, no post fails on a connection the pool kept from before.
    failed_after = [
        (code, person.name)
        for person in crowd.people
        for code, transmitted_at in person.errors
        if transmitted_at > restored_at
    ]
    assert failed_after == [], tally.line("after the outage")


async def next_answer(socket: ClientConnection, timeout: float) -> dict:
    """The next frame that is not typing or who is here."""
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if frame["type"] not in ("presence", "typing"):
            return frame


async def someone_in_a_room(worker, name: str, room: str) -> tuple[ClientConnection, int]:
    """A person who joined `room` on `worker`, with the room's socket open."""
    session, room_id = await join(worker.host, worker.port, name=name, room=room)
    socket = await connect(
        worker.socket_url(room_id),
        origin=worker.origin,
        additional_headers={"Cookie": f"sessionid={session}"},
    )
    return socket, room_id


async def test_a_commit_whose_answer_is_lost_is_answered_outcome_unknown_and_stored_once(
    template, tmp_path
):
    """The database commits, the worker's connection drops before the answer: the client
    must hear "maybe stored, send it again with the same id", never "not stored"."""
    with cluster(tmp_path, template, workers=1) as deployment:
        socket, room_id = await someone_in_a_room(deployment.workers[0], "Ana", "Commit")
        deployment.postgres.cut_after_commits(1)
        frame = {"type": "message.send", "client_id": secrets.token_hex(8), "text": "maybe"}
        await socket.send(json.dumps(frame))
        answer = await next_answer(socket, 15)
        assert deployment.postgres.commits_cut == 1
        assert (answer["type"], answer["code"]) == ("error", "outcome_unknown")
        assert answer["client_id"] == frame["client_id"]
        assert answer["retry_after_ms"] > 0
        assert await asyncio.to_thread(deployment.stored, room_id) == [
            (1, frame["client_id"], "maybe")
        ], "the database did commit it"

        await socket.send(json.dumps(frame))  # the same id, as the page does
        frames = [await next_answer(socket, 10) for _ in range(2)]
        by_type = {f["type"]: f for f in frames}
        assert by_type["ack"]["message"]["seq"] == 1
        assert by_type["message.created"]["seq"] == 1  # announced now, as a repeat
        assert await asyncio.to_thread(deployment.stored, room_id) == [
            (1, frame["client_id"], "maybe")
        ]
        await socket.close()


async def test_commits_cut_while_a_crowd_posts_store_every_message_once(template, tmp_path):
    with cluster(tmp_path, template) as deployment:
        crowd = await Crowd.gather(lambda: deployment.workers, 20, interval=0.5)
        await crowd.start()
        for cut in range(1, 4):
            await crowd.talk(10)
            deployment.postgres.cut_after_commits(1)
            while deployment.postgres.commits_cut < cut:  # the next commit, whenever it is
                await asyncio.sleep(0.02)
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        tally = check(
            crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "COMMITs cut x3"
        )
    assert deployment.postgres.commits_cut == 3
    assert tally.errors["outcome_unknown"] >= 1


async def test_after_a_quiet_outage_the_first_post_is_stored_not_failed_on_a_dead_connection(
    template, tmp_path
):
    """The pool keeps connections while nobody posts; PostgreSQL goes away and comes back
    meanwhile. The next post must not be the one that finds out they are dead."""
    with cluster(tmp_path, template, workers=1) as deployment:
        socket, room_id = await someone_in_a_room(deployment.workers[0], "Quiet", "Quiet")

        async def post(text: str) -> dict:
            frame = {"type": "message.send", "client_id": secrets.token_hex(8), "text": text}
            await socket.send(json.dumps(frame))
            while True:
                answer = json.loads(await asyncio.wait_for(socket.recv(), 15))
                if answer["type"] in ("ack", "error"):
                    return answer

        assert (await post("before"))["type"] == "ack"  # the pool holds a connection now
        deployment.postgres.cut_and_refuse()  # every connection to PostgreSQL drops
        deployment.postgres.restore()  # and it is back before anyone posts again
        answer = await post("after")
        assert answer["type"] == "ack", answer
        assert [text for _, _, text in await asyncio.to_thread(deployment.stored, room_id)] == [
            "before",
            "after",
        ]
        await socket.close()
