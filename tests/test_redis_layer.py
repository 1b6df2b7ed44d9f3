"""The hub over the real Redis (channels_redis), as several worker processes use it.

Needs Redis at REDIS_TEST_URL (default redis://127.0.0.1:6379/15); skips, saying so, when it
is not there. Each test uses its own key prefix and flushes it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from channels_redis.core import RedisChannelLayer

from chat import realtime
from chat.realtime import LocalSocket
from config.settings import redis_channel_layer
from tests.test_realtime import FakeClient

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def redis_layer_config(prefix: str) -> dict:
    """The production layer's settings, pointed at the test database and prefix."""
    return redis_channel_layer(REDIS_TEST_URL, prefix)["CONFIG"]


@pytest.fixture
async def redis_layer(monkeypatch):
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        pytest.skip(f"Redis at {REDIS_TEST_URL} is not reachable: {exc}")
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    layer = RedisChannelLayer(**redis_layer_config(prefix))
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    monkeypatch.setattr(realtime, "_hub", None)
    yield layer
    await layer.flush()
    async for key in client.scan_iter(f"{prefix}*"):
        await client.delete(key)
    await client.aclose()


async def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_events_published_by_another_process_reach_local_sockets_in_order(redis_layer):
    client = FakeClient()
    await realtime.hub().join(1, LocalSocket(client.send, max_backlog=100))
    assert not realtime.hub().local_only

    # Another worker process: its own layer instance, publishing into the same group.
    other_process = RedisChannelLayer(**redis_layer_config(redis_layer.prefix))
    for first_seq, batch in ((1, ["m1", "m2"]), (3, ["m3"])):
        event = {"type": realtime.ROOM_EVENT, "first_seq": first_seq, "frames": batch}
        await other_process.group_send(realtime.room_group(1), event)
    await wait_for(lambda: len(client.texts) == 3)
    assert client.texts == ["m1", "m2", "m3"]
    await other_process.flush()


async def test_a_room_subscription_idle_past_every_timeout_still_receives(redis_layer):
    client = FakeClient()
    await realtime.hub().join(1, LocalSocket(client.send, max_backlog=100))
    # Longer than redis-py's 5 s default socket timeout and the layer's 5 s blocking read.
    await asyncio.sleep(7)
    realtime.hub().publish(1, 1, ["after a quiet spell"])
    await wait_for(lambda: client.texts == ["after a quiet spell"])


def test_the_redis_layer_waits_on_its_socket_longer_than_its_blocking_read():
    config = redis_layer_config("any")
    assert config["hosts"][0]["socket_timeout"] > RedisChannelLayer(**config).brpop_timeout
