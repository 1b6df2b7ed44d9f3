"""Rate limits: messages per person and per address, joins, new sockets per address; over
a limit, a clear error with `retry_after_ms`, and nothing else changes. Shared through
Redis by every worker; counted in the process when Redis is away."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import ratelimit
from chat.models import Room, User
from config.asgi import application
from tests.conftest import session_cookie_for
from tests.test_consumer import message_frame, stored

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(room_factory):
    return room_factory("Limits")


async def socket_from(room, user, address: str = "10.0.0.1") -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie_for)(user)
    socket = WebsocketCommunicator(
        application,
        f"/ws/rooms/{room.pk}/",
        headers=[(b"host", b"localhost"), (b"origin", b"http://localhost"), (b"cookie", cookie)],
    )
    socket.scope["client"] = (address, 50000)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def answers(socket, count: int) -> list[dict]:
    """The next `count` acks and errors (message events are skipped)."""
    frames = []
    while len(frames) < count:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] in ("ack", "error"):
            frames.append(frame)
    return frames


async def test_a_persons_limit_holds_across_their_tabs(socket_for, room, user_factory, settings):
    settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_SECOND = 3, 1
    alice = await database_sync_to_async(user_factory)("Alice")
    tabs = [await socket_from(room, alice), await socket_from(room, alice)]
    for number in range(4):
        await tabs[number % 2].send_json_to(message_frame(f"flood {number}"))
    frames = await answers(tabs[0], 2) + await answers(tabs[1], 2)

    assert sorted(frame["type"] for frame in frames) == ["ack", "ack", "ack", "error"]
    [refused] = [frame for frame in frames if frame["type"] == "error"]
    assert refused["code"] == "rate_limited"
    assert 0 < refused["retry_after_ms"] <= 3000
    assert len(await stored(room)) == 3
    for tab in tabs:
        await tab.disconnect()


async def test_an_addresss_limit_holds_across_people_and_spares_other_addresses(
    room, user_factory, settings
):
    settings.CHAT_RATE_ADDRESS_BURST, settings.CHAT_RATE_ADDRESS_PER_SECOND = 3, 1
    make = database_sync_to_async(user_factory)
    office = [await socket_from(room, await make(), "10.0.0.7") for _ in range(2)]
    elsewhere = await socket_from(room, await make(), "10.0.0.8")
    for number in range(4):
        await office[number % 2].send_json_to(message_frame(f"office {number}"))
    frames = await answers(office[0], 2) + await answers(office[1], 2)
    assert sorted(frame["type"] for frame in frames) == ["ack", "ack", "ack", "error"]

    await elsewhere.send_json_to(message_frame("from another address"))
    assert (await answers(elsewhere, 1))[0]["type"] == "ack"
    for socket in (*office, elsewhere):
        await socket.disconnect()


async def test_too_many_new_sockets_from_one_address_are_told_when_to_come_back(
    room, user_factory, settings
):
    settings.CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS = 2
    alice = await database_sync_to_async(user_factory)("Alice")
    first = await socket_from(room, alice, "10.0.0.9")
    second = await socket_from(room, alice, "10.0.0.9")

    third = await socket_from(room, alice, "10.0.0.9")
    told = await third.receive_json_from(timeout=3)
    assert told["code"] == "rate_limited"
    assert 0 < told["retry_after_ms"] <= 60_000
    closed = await third.receive_output(timeout=3)
    assert closed == {"type": "websocket.close", "code": 4429}

    # The sockets already open carry on; another address is not affected.
    await first.send_json_to(message_frame("still here"))
    assert (await answers(first, 1))[0]["type"] == "ack"
    other = await socket_from(room, alice, "10.0.0.10")
    await other.send_json_to(message_frame("from elsewhere"))
    assert (await answers(other, 1))[0]["type"] == "ack"
    for socket in (first, second, other):
        await socket.disconnect()


def test_too_many_joins_from_one_address_get_429_with_a_clear_message_and_change_nothing(
    client, settings
):
    settings.CHAT_JOINS_PER_MINUTE_PER_ADDRESS = 2
    for number in range(2):
        response = client.post("/", {"name": f"Joiner {number}", "room": "Busy door"})
        assert response.status_code == 302
    users, rooms = User.objects.count(), Room.objects.count()

    response = client.post("/", {"name": "One too many", "room": "Another room"})
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many joins in a short time" in response.content.decode()
    assert (User.objects.count(), Room.objects.count()) == (users, rooms)


@pytest.fixture
def limits_clock_mid_window(monkeypatch):
    """The counters' clock held in the middle of a minute: a test's hits that straddled a
    window's end would count only in part (the sliding window weighs the one before)."""
    import limits.storage.memory

    now = time.time()
    held = now - now % 60 + 30
    clock = type("Clock", (), {"time": staticmethod(lambda: held)})
    monkeypatch.setattr(limits.storage.memory, "time", clock)


def test_joins_are_limited_per_person_too(client, settings, limits_clock_mid_window):
    settings.CHAT_JOINS_PER_MINUTE = 2
    # The first join counts against the name; once logged in, against the person.
    for room in ("One", "Two", "Three"):
        assert client.post("/", {"name": "Restless", "room": room}).status_code == 302
    assert client.post("/", {"name": "Restless", "room": "Four"}).status_code == 429
    other = client.__class__()  # someone else, from the same address, is let in
    assert other.post("/", {"name": "Calm", "room": "Three"}).status_code == 302


async def test_with_redis_away_the_limits_count_in_the_process_and_nothing_fails(settings):
    settings.CHAT_LIMITS_STORAGE = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.CHAT_LIMITS_STORAGE_OPTIONS = {"socket_connect_timeout": 0.5}
    limits = ratelimit.AsyncLimits(asyncio.get_running_loop())
    rule = ratelimit.Rule("test", 2, 60)
    started = time.monotonic()
    results = [await limits.refused((rule, "someone")) for _ in range(3)]
    assert results[:2] == [None, None]
    assert results[2] is not None and results[2] > 0
    assert time.monotonic() - started < 2, "one failed attempt, not one per hit"

    sync_limits = ratelimit.Limits()
    assert [sync_limits.refused((rule, "someone")) is None for _ in range(3)] == [
        True,
        True,
        False,
    ]


@pytest.fixture
def shared_redis(settings):
    import redis

    url = "redis://127.0.0.1:6379/14"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis at {url} is not reachable: {exc}")
    prefix = f"test-limits-{secrets.token_hex(4)}"
    settings.CHAT_LIMITS_STORAGE = url
    settings.CHAT_LIMITS_STORAGE_OPTIONS = {"key_prefix": prefix}
    yield
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)
    client.close()


async def test_over_redis_two_processes_count_in_the_same_window(shared_redis):
    loop = asyncio.get_running_loop()
    worker_one, worker_two = ratelimit.AsyncLimits(loop), ratelimit.AsyncLimits(loop)
    views = ratelimit.Limits()
    rule = ratelimit.Rule("shared", 3, 60)
    assert await worker_one.refused((rule, "alice")) is None
    assert await worker_two.refused((rule, "alice")) is None
    assert views.refused((rule, "alice")) is None
    assert await worker_one.refused((rule, "alice")) > 0  # the fourth, wherever it comes
    assert await worker_two.refused((rule, "bob")) is None  # each key counts alone


async def test_a_refused_attempt_does_not_use_up_the_other_limits(settings):
    limits = ratelimit.AsyncLimits(asyncio.get_running_loop())
    person, office = ratelimit.Rule("person", 3, 60), ratelimit.Rule("office", 10, 60)
    for _ in range(50):  # a flooder, far past their own limit
        await limits.refused((person, "flooder"), (office, "10.0.0.1"))
    assert await limits.refused((person, "colleague"), (office, "10.0.0.1")) is None


@pytest.fixture(params=["in memory", "over Redis"])
def store(request):
    if request.param == "over Redis":
        request.getfixturevalue("shared_redis")
    return request.param


async def test_waiting_as_long_as_told_is_enough(store):
    limits = ratelimit.AsyncLimits(asyncio.get_running_loop())
    rule = ratelimit.Rule("patient", 2, 1)
    while await limits.refused((rule, "me")) is None:
        pass
    for _ in range(3):
        wait_ms = await limits.refused((rule, "me"))
        assert wait_ms is not None and wait_ms <= 2000
        await asyncio.sleep(wait_ms / 1000)
        assert await limits.refused((rule, "me")) is None, "allowed once the wait is over"


def test_a_window_filled_at_its_start_is_never_told_to_wait_longer_than_the_window():
    rule = ratelimit.Rule("full", 5, 10)
    # No previous window; the current one full, with all of its 10 s still to run (its
    # counter lives on for one more window, hence 20 s left).
    assert ratelimit._retry_after_ms((0, 0.0, 5, 20.0), rule) == 10_000
    assert ratelimit._retry_after_ms((0, 0.0, 5, 19.5), rule) == 9_505


def test_the_views_limits_count_a_refused_attempt_nowhere_either():
    limits = ratelimit.Limits()
    person, office = ratelimit.Rule("person", 2, 60), ratelimit.Rule("office", 5, 60)
    for _ in range(20):
        limits.refused((person, "flooder"), (office, "10.0.0.1"))
    assert limits.refused((person, "colleague"), (office, "10.0.0.1")) is None


def test_asking_for_someone_elses_name_again_and_again_does_not_lock_its_owner_out(
    client, settings
):
    settings.CHAT_JOINS_PER_MINUTE = 2
    owner = client.__class__()
    assert owner.post("/", {"name": "Owner", "room": "Home"}).status_code == 302
    for _ in range(5):  # someone else, trying the name
        client.post("/", {"name": "Owner", "room": "Home"})
    assert owner.post("/", {"name": "Owner", "room": "Home"}).status_code == 302
