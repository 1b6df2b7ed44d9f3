"""The hub over the real Redis (channels_redis), as several worker processes use it.

Needs Redis at REDIS_TEST_URL (default redis://127.0.0.1:6379/15); skips, saying so, when it
is not there. Each test uses its own key prefix and flushes it afterwards.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import uuid

import pytest
from channels.db import database_sync_to_async
from channels_redis.core import RedisChannelLayer

from chat import realtime, runtime, selectors, services
from chat.realtime import LocalSocket, envelope
from chat.realtime import hub as room_hub
from config.settings import redis_channel_layer
from tests.test_realtime import FakeClient

REDIS_TEST_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/15")


def redis_layer_config(prefix: str) -> dict:
    """The production layer's settings, pointed at the test database and prefix."""
    return redis_channel_layer(REDIS_TEST_URL, prefix)["CONFIG"]


async def position_unknown(room_id: int) -> None:
    """No database in these tests: a room's position is learned from its first event."""
    return None


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
    monkeypatch.setattr(room_hub, "get_channel_layer", lambda: layer)
    await runtime.stop()  # and again over this layer
    await runtime.start()

    monkeypatch.setattr(room_hub, "_room_last_seq", position_unknown)
    yield layer
    await runtime.stop()
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
    await runtime.current().hub.join(1, LocalSocket(client.send, max_backlog=100))
    assert not runtime.current().hub.local_only

    # Another worker process: its own layer instance, publishing into the same group.
    other_process = RedisChannelLayer(**redis_layer_config(redis_layer.prefix))
    for first_seq, batch in ((1, ["m1", "m2"]), (3, ["m3"])):
        event = {"type": envelope.ROOM_FRAMES, "first_seq": first_seq, "frames": batch}
        await other_process.group_send(realtime.room_group(1), event)
    await wait_for(lambda: len(client.texts) == 3)
    assert client.texts == ["m1", "m2", "m3"]
    await other_process.flush()


async def test_a_room_subscription_idle_past_every_timeout_still_receives(redis_layer):
    client = FakeClient()
    await runtime.current().hub.join(1, LocalSocket(client.send, max_backlog=100))
    # Longer than redis-py's 5 s default socket timeout and the layer's 5 s blocking read.
    await asyncio.sleep(7)
    runtime.current().hub.publish(1, 1, ["after a quiet spell"])
    await wait_for(lambda: client.texts == ["after a quiet spell"])


def test_the_redis_layer_waits_on_its_socket_longer_than_its_blocking_read():
    config = redis_layer_config("any")
    assert config["hosts"][0]["socket_timeout"] > RedisChannelLayer(**config).brpop_timeout


class PrivateRedis:
    """A Redis server of this test's own, so it can be stopped and started again.
    `leading` arguments come first (a config file), `options` after the port."""

    def __init__(self, binary: str, *options: str, leading: tuple[str, ...] = ()) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.binary = binary
        self.leading = leading
        self.options = options
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                *self.leading,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=5)


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed, so this test cannot run Redis of its own")
    return binary


@pytest.fixture
async def restartable_redis_layer(monkeypatch):
    redis_server = PrivateRedis(redis_server_binary())
    redis_server.start()
    layer = RedisChannelLayer(**redis_channel_layer(redis_server.url)["CONFIG"])
    monkeypatch.setattr(room_hub, "get_channel_layer", lambda: layer)
    await runtime.stop()  # and again over this layer
    await runtime.start()
    yield redis_server
    await runtime.stop()
    redis_server.stop()


def text_of(frame: str) -> str:
    return json.loads(frame)["message"]["text"]


@database_sync_to_async
def encoded_messages_after(room_id: int, after_seq: int) -> list[str]:
    last_seq = selectors.room_last_seq(room_id=room_id)
    events = selectors.room_events_after(room_id=room_id, after_seq=after_seq, up_to_seq=last_seq)
    return [frame for _, frame in events]


@pytest.mark.django_db(transaction=True)
async def test_a_room_outlives_a_redis_restart_and_gets_what_other_processes_stored_meanwhile(
    restartable_redis_layer, room_factory, user_factory
):
    redis_server = restartable_redis_layer
    room = await database_sync_to_async(room_factory)()
    person = await database_sync_to_async(user_factory)()
    client = FakeClient()
    await runtime.current().hub.join(room.pk, LocalSocket(client.send, max_backlog=100))

    redis_server.stop()
    # This process's own messages still reach its sockets while Redis is down...
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=person, texts=["mine, while Redis was down"]
    )
    runtime.current().hub.publish(room.pk, 1, await encoded_messages_after(room.pk, 0))
    await wait_for(lambda: len(client.texts) == 1)
    # ...and what another process stores meanwhile, whose announcement is lost with Redis,
    # arrives once Redis is back.
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=person, texts=["theirs 1", "theirs 2"]
    )
    await asyncio.sleep(1)
    redis_server.start()
    await wait_for(lambda: len(client.texts) == 3, timeout=15)

    # Live events from other processes flow again, through the restarted Redis.
    other_process = RedisChannelLayer(**redis_channel_layer(redis_server.url)["CONFIG"])
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=person, texts=["theirs 3, live"]
    )
    event = {
        "type": envelope.ROOM_FRAMES,
        "first_seq": 4,
        "frames": await encoded_messages_after(room.pk, 3),
    }
    await other_process.group_send(realtime.room_group(room.pk), event)
    await wait_for(lambda: len(client.texts) == 4)
    assert [text_of(frame) for frame in client.texts] == [
        "mine, while Redis was down",
        "theirs 1",
        "theirs 2",
        "theirs 3, live",
    ]


@pytest.fixture
async def redis_behind_sentinel(monkeypatch, tmp_path):
    """A master, its replica and one Sentinel watching them (quorum 1, down after 1 s);
    the hub's layer finds the master through the Sentinel, as REDIS_SENTINELS configures."""
    binary = redis_server_binary()
    master = PrivateRedis(binary)
    master.start()
    replica = PrivateRedis(binary, "--replicaof", "127.0.0.1", str(master.port))
    replica.start()
    config = tmp_path / "sentinel.conf"  # a Sentinel rewrites its file: it must be its own
    sentinel = PrivateRedis(binary, "--sentinel", leading=(str(config),))
    config.write_text(
        f"sentinel monitor chat 127.0.0.1 {master.port} 1\n"
        "sentinel down-after-milliseconds chat 1000\n"
        "sentinel failover-timeout chat 10000\n"
    )
    sentinel.start()
    servers = (sentinel, replica, master)

    def layer() -> RedisChannelLayer:
        settings = redis_channel_layer(sentinels=[f"127.0.0.1:{sentinel.port}"], master_name="chat")
        return RedisChannelLayer(**settings["CONFIG"])

    this_process = layer()
    monkeypatch.setattr(room_hub, "get_channel_layer", lambda: this_process)
    await runtime.stop()  # and again over this layer
    await runtime.start()
    monkeypatch.setattr(room_hub, "_room_last_seq", position_unknown)
    try:
        yield master, replica, layer
    finally:
        await runtime.stop()
        for server in servers:
            if server.process.poll() is None:
                server.stop()


def room_event(first_seq: int, *texts: str) -> dict:
    frames = [
        json.dumps({"type": "message", "message": {"seq": seq, "text": text}})
        for seq, text in enumerate(texts, start=first_seq)
    ]
    return {"type": envelope.ROOM_FRAMES, "first_seq": first_seq, "frames": frames}


async def test_behind_sentinel_rooms_keep_working_when_the_master_fails_over(
    redis_behind_sentinel,
):
    import redis.asyncio as redis

    master, replica, layer = redis_behind_sentinel
    other_process = layer()
    client = FakeClient()
    await runtime.current().hub.join(7, LocalSocket(client.send, max_backlog=100))
    await other_process.group_send(realtime.room_group(7), room_event(1, "before"))
    await wait_for(lambda: len(client.texts) == 1)

    master.stop()  # the Sentinel promotes the replica once the master has been down 1 s
    promoted = redis.Redis.from_url(replica.url)

    async def replica_is_master() -> bool:
        return (await promoted.info("replication"))["role"] == "master"

    deadline = time.monotonic() + 20
    while not await replica_is_master():
        assert time.monotonic() < deadline, "the Sentinel did not fail over"
        await asyncio.sleep(0.2)
    await promoted.aclose()

    # Both processes find the new master through the Sentinel; the room is live again.
    async def delivered_after_failover() -> bool:
        await other_process.group_send(realtime.room_group(7), room_event(2, "after"))
        await asyncio.sleep(0.3)
        return len(client.texts) == 2

    deadline = time.monotonic() + 20
    while True:
        try:
            if await delivered_after_failover():
                break
        except (ConnectionError, OSError, redis.RedisError):
            pass  # the other process's own pool is still finding the new master
        assert time.monotonic() < deadline, "the room did not come back after the failover"
    assert [text_of(frame) for frame in client.texts] == ["before", "after"]


async def test_the_readiness_probe_answers_while_rooms_are_subscribed(redis_layer):
    from chat import views

    await runtime.current().hub.join(7, LocalSocket(FakeClient().send, max_backlog=10))
    await asyncio.sleep(0.2)  # the room's subscription is now waiting on Redis
    await asyncio.wait_for(realtime.layer_answers(), views.HEALTH_TIMEOUT_SECONDS)
