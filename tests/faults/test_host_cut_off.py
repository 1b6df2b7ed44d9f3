"""Two app hosts (network namespaces of the test's own, joined to this machine by veth
links), one worker on each; one host is cut off the network for 10 s while a crowd on
both posts: its worker loses PostgreSQL, Redis and its people at once, and gets them
back."""

from __future__ import annotations

import asyncio
import urllib.request

import pytest

from tests.faults.cluster import app_hosts, cluster
from tests.faults.crowd import Crowd, check

pytestmark = pytest.mark.faults


async def test_a_host_cut_off_for_ten_seconds_loses_nothing_and_stores_nothing_twice(
    template, tmp_path
):
    with app_hosts(2) as hosts, cluster(tmp_path, template, hosts=hosts) as deployment:
        crowd = await Crowd.gather(lambda: deployment.workers, 20, interval=0.5)
        await crowd.start()
        await crowd.talk()
        cut_off = hosts[0]
        await asyncio.to_thread(cut_off.cut_off)
        with pytest.raises(OSError):  # the host is really gone from the network
            await asyncio.to_thread(
                urllib.request.urlopen, deployment.workers[0].url + "/healthz", timeout=1
            )
        await asyncio.sleep(9)
        await asyncio.to_thread(cut_off.reconnect)
        await crowd.fault_over(lambda: deployment.last_seq(crowd.room_id))
        await crowd.talk()
        await crowd.settle(lambda: deployment.last_seq(crowd.room_id), timeout=90)
        check(
            crowd,
            await asyncio.to_thread(deployment.stored, crowd.room_id),
            "a host cut off 10 s",
        )
    # Its people's sockets survive the cut (nothing resets them; TCP resends when the link
    # is back), or they reconnect: either way they end with everything.
    on_the_cut_host = [p for p in crowd.people if p.ports[0] == deployment.workers[0].port]
    assert on_the_cut_host, "some people were on the host that was cut off"
