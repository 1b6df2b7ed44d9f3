"""The room socket, driven through the real ASGI application (origin check, session auth,
routing) with WebsocketCommunicator."""

from __future__ import annotations

import asyncio
import json
import logging
import threading

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from prometheus_client import REGISTRY

from chat import protocol, writer
from chat.models import Message
from config.asgi import application
from tests.conftest import new_client_id, session_cookie_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def alice(user_factory):
    return user_factory("Alice")


@pytest.fixture
def bob(user_factory):
    return user_factory("Bob")


async def joined(socket_for, room, user):
    socket = await socket_for(room, user)
    connected, _ = await socket.connect()
    assert connected
    return socket


async def send(socket, frame) -> dict:
    await socket.send_to(text_data=frame if isinstance(frame, str) else json.dumps(frame))
    return await socket.receive_json_from(timeout=3)


def message_frame(text: str, client_id: str | None = None) -> dict:
    return {"type": "message.send", "client_id": client_id or new_client_id(), "text": text}


@database_sync_to_async
def stored(room) -> list[tuple[int, str, str]]:
    return list(
        Message.objects.filter(room=room)
        .order_by("seq")
        .values_list("seq", "sender__display_name", "text")
    )


async def test_a_message_is_stored_once_acknowledged_and_delivered_to_everyone(
    socket_for, room, alice, bob
):
    alice_socket = await joined(socket_for, room, alice)
    bob_socket = await joined(socket_for, room, bob)

    client_id = new_client_id()
    await alice_socket.send_json_to(message_frame("hello", client_id))

    alice_frames = [await alice_socket.receive_json_from(timeout=3) for _ in range(2)]
    by_type = {frame["type"]: frame for frame in alice_frames}
    assert by_type["ack"]["client_id"] == client_id
    assert by_type["ack"]["message"]["seq"] == 1
    assert by_type["message.created"]["message"]["text"] == "hello"
    bob_frame = await bob_socket.receive_json_from(timeout=3)
    assert bob_frame["type"] == "message.created"
    assert bob_frame["seq"] == bob_frame["message"]["seq"] == 1
    assert bob_frame["message"]["sender"] == {"id": alice.pk, "name": "Alice"}
    assert await stored(room) == [(1, "Alice", "hello")]
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_the_sender_is_the_session_user_whatever_the_frame_claims(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    frame = {**message_frame("hi"), "sender": {"id": 999, "name": "Mallory"}}
    reply = await send(socket, frame)
    assert reply["type"] == "error"
    assert reply["code"] == "invalid_field"
    assert await stored(room) == []
    await socket.send_json_to(message_frame("hi"))
    ack = await socket.receive_json_from(timeout=3)
    ack = ack if ack["type"] == "ack" else await socket.receive_json_from(timeout=3)
    assert ack["message"]["sender"]["name"] == "Alice"
    await socket.disconnect()


async def test_identical_text_sent_twice_is_two_messages(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    for _ in range(2):
        await socket.send_json_to(message_frame("same words"))
        await socket.receive_json_from(timeout=3)
        await socket.receive_json_from(timeout=3)
    assert await stored(room) == [(1, "Alice", "same words"), (2, "Alice", "same words")]
    await socket.disconnect()


async def test_a_resend_of_the_same_client_id_returns_the_stored_message(
    socket_for, room, alice, bob
):
    alice_socket = await joined(socket_for, room, alice)
    bob_socket = await joined(socket_for, room, bob)
    frame = message_frame("only once")
    await alice_socket.send_json_to(frame)
    await alice_socket.receive_json_from(timeout=3)
    await alice_socket.receive_json_from(timeout=3)
    await bob_socket.receive_json_from(timeout=3)

    ack = await send(alice_socket, frame)

    assert ack["type"] == "ack"
    assert ack["message"]["seq"] == 1
    assert await stored(room) == [(1, "Alice", "only once")]
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_sync_returns_what_a_reconnecting_client_missed_in_order(
    socket_for, room, alice, bob
):
    alice_socket = await joined(socket_for, room, alice)
    for text in ["one", "two", "three"]:
        await alice_socket.send_json_to(message_frame(text))
        await alice_socket.receive_json_from(timeout=3)
        await alice_socket.receive_json_from(timeout=3)

    bob_socket = await joined(socket_for, room, bob)
    result = await send(bob_socket, {"type": "sync", "after_seq": 1})

    assert result["type"] == "sync.result"
    assert [(e["seq"], e["type"], e["message"]["text"]) for e in result["events"]] == [
        (2, "message.created", "two"),
        (3, "message.created", "three"),
    ]
    assert (result["has_more"], result["last_seq"]) == (False, 3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_sync_comes_in_bounded_batches(socket_for, room, alice, settings):
    settings.CHAT_CATCH_UP_MAX = 2
    socket = await joined(socket_for, room, alice)
    for text in "abc":
        await socket.send_json_to(message_frame(text))
        await socket.receive_json_from(timeout=3)
        await socket.receive_json_from(timeout=3)

    first = await send(socket, {"type": "sync", "after_seq": 0})
    second = await send(socket, {"type": "sync", "after_seq": 2})

    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert (first["has_more"], first["last_seq"]) == (True, 2)
    assert [e["seq"] for e in second["events"]] == [3]
    assert (second["has_more"], second["last_seq"]) == (False, 3)
    await socket.disconnect()


BAD_FRAMES = [
    ("{not json", "invalid_json"),
    ('["a", "list"]', "not_an_object"),
    ('"just a string"', "not_an_object"),
    ('{"type": "message.forward"}', "unknown_type"),
    ('{"text": "no type"}', "unknown_type"),
    ('{"type": "message.send", "client_id": "c1", "text": 42}', "invalid_field"),
    ('{"type": "message.send", "client_id": "c1"}', "invalid_field"),
    ('{"type": "message.send", "client_id": "has space", "text": "x"}', "invalid_field"),
    ('{"type": "message.send", "client_id": "abc\\n", "text": "x"}', "invalid_field"),
    ('{"type": "sync", "after_seq": ' + "[" * 30_000 + "]" * 30_000 + "}", "too_deeply_nested"),
    ('{"type": "sync", "after_seq": "7"}', "invalid_field"),
    ('{"type": "sync", "after_seq": -1}', "invalid_field"),
    ('{"type": "message.send", "client_id": "c1", "text": "   \\n  "}', "blank_message"),
    (json.dumps(message_frame("x" * 4001)), "message_too_long"),
    (json.dumps(message_frame("x" * (64 * 1024))), "frame_too_large"),
]


@pytest.mark.parametrize(("raw", "code"), BAD_FRAMES)
async def test_a_bad_frame_gets_an_error_code_stores_nothing_and_the_socket_keeps_working(
    socket_for, room, alice, bob, raw, code
):
    alice_socket = await joined(socket_for, room, alice)
    bob_socket = await joined(socket_for, room, bob)

    reply = await send(alice_socket, raw)

    assert reply["type"] == "error"
    assert reply["code"] == code
    assert reply["detail"]
    assert await stored(room) == []
    assert await bob_socket.receive_nothing(timeout=0.1)
    # Both connections carry on as before.
    await alice_socket.send_json_to(message_frame("still here"))
    assert (await bob_socket.receive_json_from(timeout=3))["message"]["text"] == "still here"
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_a_deeply_nested_frame_is_bad_input_logged_without_a_traceback(
    socket_for, room, alice, caplog
):
    socket = await joined(socket_for, room, alice)
    reply = await send(socket, "[" * 30_000 + "]" * 30_000)
    assert reply["code"] == "too_deeply_nested"
    assert [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info] == []
    await socket.disconnect()


async def test_an_error_about_a_message_names_its_client_id(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    reply = await send(socket, message_frame("x" * 4001, "abc-123"))
    assert reply["client_id"] == "abc-123"
    await socket.disconnect()


async def test_a_binary_frame_is_refused_with_an_error(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    await socket.send_to(bytes_data=b"\x00\x01")
    reply = await socket.receive_json_from(timeout=3)
    assert reply["code"] == "binary_not_supported"
    await socket.disconnect()


async def test_a_message_of_exactly_the_limit_is_accepted(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    await socket.send_json_to(message_frame("é" * 4000))
    frames = [await socket.receive_json_from(timeout=3) for _ in range(2)]
    assert {frame["type"] for frame in frames} == {"ack", "message.created"}
    await socket.disconnect()


async def test_a_flood_is_rate_limited_with_a_retry_hint_and_nothing_is_lost(
    socket_for, room, alice, settings
):
    settings.CHAT_RATE_BURST = 3
    settings.CHAT_RATE_PER_SECOND = 1
    socket = await joined(socket_for, room, alice)
    acks, errors = [], []
    for index in range(5):
        await socket.send_json_to(message_frame(f"flood {index}"))
    while len(acks) + len(errors) < 5:
        frame = await socket.receive_json_from(timeout=3)
        if frame["type"] == "ack":
            acks.append(frame)
        elif frame["type"] == "error":
            errors.append(frame)
    assert len(acks) == 3
    assert {error["code"] for error in errors} == {"rate_limited"}
    assert all(error["retry_after_ms"] > 0 for error in errors)
    assert [text for _, _, text in await stored(room)] == ["flood 0", "flood 1", "flood 2"]
    await socket.disconnect()


async def test_markup_is_carried_as_plain_text(socket_for, room, alice):
    socket = await joined(socket_for, room, alice)
    text = '<img src=x onerror="alert(1)"> & <script>alert(2)</script>'
    await socket.send_json_to(message_frame(text))
    frames = [await socket.receive_json_from(timeout=3) for _ in range(2)]
    assert all(frame["message"]["text"] == text for frame in frames)
    await socket.disconnect()


async def test_a_socket_without_a_session_is_closed_with_4401(socket_for, room):
    socket = await socket_for(room)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_NOT_AUTHENTICATED,
    }


@pytest.mark.parametrize(
    "path",
    ["/ws/rooms/987654/", "/ws/rooms/99999999999999999999999/", "/ws/rooms/abc/", "/ws/elsewhere"],
)
async def test_a_socket_to_an_unknown_or_invalid_room_is_closed_with_4404(socket_for, alice, path):
    socket = await socket_for(path, alice)
    connected, _ = await socket.connect()
    assert connected
    assert (await socket.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_ROOM_NOT_FOUND,
    }


@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"http://localhost:1",  # the site's host on another port is another site
        b"https://localhost",  # and so is the other scheme
        b"http://localhost.evil.example",
        b"http://localhost:notaport",
        b"null",
    ],
)
async def test_a_socket_from_another_origin_is_refused(socket_for, room, alice, origin):
    socket = await socket_for(room, alice, origin=origin)
    connected, _ = await socket.connect()
    assert not connected
    assert await stored(room) == []


@pytest.mark.parametrize(
    ("host", "origin", "scheme"),
    [
        (b"localhost", b"http://localhost", "ws"),
        (b"localhost:80", b"http://localhost", "ws"),
        (b"localhost:8000", b"http://localhost:8000", "ws"),
        (b"localhost", b"https://localhost", "wss"),  # behind an HTTPS proxy
    ],
)
async def test_a_socket_from_the_sites_own_origin_is_accepted(room, alice, host, origin, scheme):
    cookie = await database_sync_to_async(session_cookie_for)(alice)
    socket = WebsocketCommunicator(
        application,
        f"/ws/rooms/{room.pk}/",
        headers=[(b"host", host), (b"origin", origin), (b"cookie", cookie)],
    )
    socket.scope["scheme"] = scheme
    connected, _ = await socket.connect()
    assert connected
    await socket.disconnect()


async def test_a_socket_from_a_trusted_origin_is_accepted(socket_for, room, alice, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    socket = await socket_for(room, alice, origin=b"https://chat.example.org")
    connected, _ = await socket.connect()
    assert connected
    await socket.disconnect()


async def test_messages_in_one_room_do_not_reach_another(socket_for, room_factory, alice, bob):
    general, other = (
        await database_sync_to_async(room_factory)("General"),
        await database_sync_to_async(room_factory)("Other"),
    )
    alice_socket = await joined(socket_for, general, alice)
    bob_socket = await joined(socket_for, other, bob)
    await alice_socket.send_json_to(message_frame("for general only"))
    await alice_socket.receive_json_from(timeout=3)
    assert await bob_socket.receive_nothing(timeout=0.3)
    await alice_socket.disconnect()
    await bob_socket.disconnect()


async def test_a_fault_while_handling_a_frame_is_reported_and_the_socket_carries_on(
    socket_for, room, alice, monkeypatch
):
    socket = await joined(socket_for, room, alice)
    real_post_many = writer._post_many
    calls = 0

    async def failing_once(posts):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database hiccup")
        return await real_post_many(posts)

    monkeypatch.setattr(writer, "_post_many", failing_once)
    reply = await send(socket, message_frame("first try", "try-1"))
    assert (reply["type"], reply["code"], reply["client_id"]) == (
        "error",
        "internal_error",
        "try-1",
    )
    await socket.send_json_to(message_frame("first try", "try-1"))
    frames = [await socket.receive_json_from(timeout=3) for _ in range(2)]
    assert {frame["type"] for frame in frames} == {"ack", "message.created"}
    assert await stored(room) == [(1, "Alice", "first try")]
    await socket.disconnect()


async def test_a_room_deleted_while_open_closes_its_sockets_with_4404_on_the_next_post(
    socket_for, room, alice
):
    socket = await joined(socket_for, room, alice)
    await database_sync_to_async(room.delete)()
    await socket.send_json_to(message_frame("anyone?"))
    assert (await socket.receive_output(timeout=3)) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_ROOM_NOT_FOUND,
    }


async def test_every_socket_receives_concurrent_senders_messages_once_in_sequence_order(
    socket_for, room, user_factory, settings
):
    settings.CHAT_RATE_BURST = 1000
    people = [await database_sync_to_async(user_factory)() for _ in range(4)]
    sockets = [await joined(socket_for, room, person) for person in people]
    per_sender = 25
    total = per_sender * len(sockets)

    async def send_all(socket, index):
        for number in range(per_sender):
            await socket.send_json_to(message_frame(f"{index}:{number}"))

    async def received_seqs(socket):
        seqs = []
        while len(seqs) < total:
            frame = await socket.receive_json_from(timeout=5)
            if frame["type"] == "message.created":
                seqs.append(frame["seq"])
        return seqs

    receiving = [asyncio.ensure_future(received_seqs(socket)) for socket in sockets]
    await asyncio.gather(*(send_all(socket, index) for index, socket in enumerate(sockets)))
    for seqs in await asyncio.gather(*receiving):
        assert seqs == list(range(1, total + 1))
    assert [seq for seq, _, _ in await stored(room)] == list(range(1, total + 1))
    for socket in sockets:
        await socket.disconnect()


async def closed_with(socket) -> int:
    connected, _ = await socket.connect()
    assert connected
    output = await socket.receive_output(timeout=3)
    assert output["type"] == "websocket.close"
    return output["code"]


async def test_a_socket_with_an_unknown_session_cookie_is_closed_with_4401(room):
    socket = WebsocketCommunicator(
        application,
        f"/ws/rooms/{room.pk}/",
        headers=[
            (b"host", b"localhost"),
            (b"origin", b"http://localhost"),
            (b"cookie", b"sessionid=forged-or-expired"),
        ],
    )
    assert await closed_with(socket) == protocol.CLOSE_NOT_AUTHENTICATED


async def test_a_session_from_before_a_password_change_no_longer_opens_sockets(
    socket_for, room, alice
):
    socket = await socket_for(room, alice)  # the cookie is made now, for the old password

    @database_sync_to_async
    def change_password():
        alice.set_password("a new secret")
        alice.save()

    await change_password()
    assert await closed_with(socket) == protocol.CLOSE_NOT_AUTHENTICATED


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_sockets_messages_resumes_and_refusals_are_counted_for_prometheus(
    socket_for, room, alice, bob
):
    before = {
        name: sample(name)
        for name in (
            "chat_connections_open",
            "chat_messages_stored_total",
            "chat_deliveries_total",
            "chat_resumes_total",
            "chat_resumed_events_total",
        )
    }
    rejected_before = sample("chat_frames_rejected_total", code="invalid_json")
    fanouts_before = sample("chat_fanout_seconds_count")
    alice_socket = await joined(socket_for, room, alice)
    bob_socket = await joined(socket_for, room, bob)
    assert sample("chat_connections_open") == before["chat_connections_open"] + 2

    await alice_socket.send_json_to(message_frame("counted"))
    await bob_socket.receive_json_from(timeout=3)
    await send(bob_socket, {"type": "sync", "after_seq": 0})
    assert (await send(bob_socket, "{oops"))["code"] == "invalid_json"

    assert sample("chat_messages_stored_total") == before["chat_messages_stored_total"] + 1
    assert sample("chat_deliveries_total") == before["chat_deliveries_total"] + 2
    assert sample("chat_fanout_seconds_count") == fanouts_before + 1
    assert sample("chat_resumes_total") == before["chat_resumes_total"] + 1
    assert sample("chat_resumed_events_total") == before["chat_resumed_events_total"] + 1
    assert sample("chat_frames_rejected_total", code="invalid_json") == rejected_before + 1
    await alice_socket.disconnect()
    await bob_socket.disconnect()
    assert sample("chat_connections_open") == before["chat_connections_open"]


async def test_posts_are_stored_while_logins_and_catch_up_reads_hold_the_database_thread(
    socket_for, room, alice
):
    """Hundreds of sockets reconnecting queue their session lookups and catch-up reads in
    the thread they share; posts are written in a thread of their own and do not wait."""
    socket = await joined(socket_for, room, alice)
    started, release = threading.Event(), threading.Event()

    def a_long_read() -> None:
        started.set()
        release.wait(10)

    reading = asyncio.ensure_future(database_sync_to_async(a_long_read)())
    await asyncio.to_thread(started.wait, 5)
    try:
        await socket.send_json_to(message_frame("not stuck behind the reads"))
        frames = [await socket.receive_json_from(timeout=3) for _ in range(2)]
        assert {frame["type"] for frame in frames} == {"ack", "message.created"}
    finally:
        release.set()
        await reading
    await socket.disconnect()
