"""Workers that die: killed outright (SIGKILL) or stopped gracefully (SIGTERM), while a
crowd of people on both workers posts; and proof that the invariant notices a lost
message or a missing resend."""

from __future__ import annotations

import asyncio

import pytest

from tests.faults.cluster import cluster
from tests.faults.crowd import Crowd, InvariantBroken, check

pytestmark = pytest.mark.faults


async def test_a_worker_killed_with_sigkill_loses_nothing_and_stores_nothing_twice(
    template, tmp_path
):
    with cluster(tmp_path, template) as deployment:
        running = lambda: [w for w in deployment.workers if w.process.poll() is None]  # noqa: E731
        crowd = await Crowd.gather(running, 20, interval=0.5)
        await crowd.start()
        await crowd.talk()  # people talking, on both workers
        await asyncio.to_thread(deployment.kill, deployment.workers[0])
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()  # its people move to the other worker and carry on
        await asyncio.to_thread(deployment.start_worker)  # a replacement comes up
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        tally = check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "SIGKILL")
    assert sum(person.connections for person in crowd.people) > len(crowd.people), (
        "the kill reached somebody"
    )
    assert tally.stored == tally.sent


async def test_a_worker_stopped_with_sigterm_sends_its_people_elsewhere_at_once(template, tmp_path):
    with cluster(tmp_path, template) as deployment:
        running = lambda: [w for w in deployment.workers if w.process.poll() is None]  # noqa: E731
        crowd = await Crowd.gather(running, 20, interval=0.5)
        await crowd.start()
        await crowd.talk()
        leaving = deployment.workers[0]
        await asyncio.to_thread(leaving.stop)  # SIGTERM, and waits for it to finish
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id))
        check(crowd, await asyncio.to_thread(deployment.stored, crowd.room_id), "SIGTERM")
    assert sum(person.closes[1012] for person in crowd.people) >= 1


@pytest.mark.parametrize("plant", ["drop_delivery", "no_resend"])
async def test_the_invariant_notices_a_fault_planted_in_the_crowd(template, tmp_path, plant):
    with cluster(tmp_path, template, workers=1) as deployment:
        crowd = await Crowd.gather(lambda: deployment.workers, 4, interval=0.2, plant={0: plant})
        await crowd.start()
        await crowd.talk(10)
        planted = crowd.people[0]
        planted.hold_connection(1.0)  # offline for a second, still typing
        planted.say_something()
        await asyncio.wait_for(planted.connected.wait(), 10)  # back online
        await crowd.talk(10)
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id), timeout=5)
        with pytest.raises(InvariantBroken) as broken:
            check(
                crowd,
                await asyncio.to_thread(deployment.stored, crowd.room_id),
                f"planted {plant} (must fail)",
            )
    expected = "saw" if plant == "drop_delivery" else "never stored"
    assert expected in str(broken.value)
