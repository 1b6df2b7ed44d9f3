"""Logs: one line per event, tagged with its connection, and no message text at INFO."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

import pytest
from channels.db import database_sync_to_async

from chat.logs import ConnectionIdFilter, JsonLogFormatter, KeyValueFormatter, new_connection_id
from tests.test_consumer import joined, message_frame, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def json_lines():
    """What the production handler writes for the `chat` logger at INFO, line by line."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(ConnectionIdFilter())
    handler.setLevel(logging.INFO)
    logger = logging.getLogger("chat")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


async def test_a_socket_logs_its_life_in_one_line_per_event_under_one_connection_id(
    socket_for, room_factory, user_factory, json_lines
):
    room = await database_sync_to_async(room_factory)("General")
    alice = await database_sync_to_async(user_factory)("Alice")
    socket = await joined(socket_for, room, alice)
    await socket.send_json_to(message_frame("a secret plan"))
    await socket.receive_json_from(timeout=3)
    await socket.receive_json_from(timeout=3)
    assert (await send(socket, {"type": "sync", "after_seq": 0}))["type"] == "sync.result"
    await socket.disconnect()

    lines = json_lines()
    events = [line["event"] for line in lines]
    assert events == ["socket opened", "catch-up served", "socket closed"]
    opened, catch_up, closed = lines
    assert opened["conn"] and len({line["conn"] for line in lines}) == 1
    assert opened["room"] == room.pk and opened["user"] == alice.pk
    assert catch_up["after_seq"] == 0 and catch_up["events"] == 1
    assert closed["code"] == 1000 and closed["messages_posted"] == 1
    assert {"time", "level", "logger", "pid"} <= opened.keys()
    assert not any("secret" in json.dumps(line) for line in lines)


async def test_a_refused_socket_says_why(socket_for, json_lines):
    socket = await socket_for("/ws/rooms/999999/")
    await socket.connect()
    await socket.receive_output(timeout=3)
    [line] = json_lines()
    assert line["event"] == "socket refused"
    assert line["code"] == 4401
    assert line["conn"]


def test_the_terminal_format_shows_each_field_and_keeps_a_traceback_below():
    formatter = KeyValueFormatter("%(levelname)s %(name)s %(message)s")
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("chat", logging.ERROR, __file__, 1, "frame failed", (), None)
        record.exc_info = sys.exc_info()
    record.room = 7
    new_connection_id()
    ConnectionIdFilter().filter(record)
    first, *rest = formatter.format(record).splitlines()
    assert first == f"ERROR chat frame failed conn={record.conn} room=7"
    assert rest[0].startswith("Traceback") and rest[-1] == "ValueError: boom"


async def test_invalid_utf8_from_a_client_closes_its_socket_with_1007_and_logs_one_calm_line(
    tmp_path,
):
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedError
    from websockets.frames import Frame, Opcode

    from bench.httpclient import join
    from tests.live_server import manage, server_env, start_server

    env = server_env(tmp_path, CHAT_LOG_LEVEL="INFO")
    await asyncio.to_thread(manage, env, "migrate", "--no-input")
    await asyncio.to_thread(manage, env, "collectstatic", "--no-input")
    server = await asyncio.to_thread(start_server, env, tmp_path / "server.log")
    try:
        session, room_id = await join(server.host, server.port, name="Byte", room="Bytes")
        socket = await connect(
            server.socket_url(room_id),
            origin=server.origin,
            additional_headers={"Cookie": f"sessionid={session}"},
        )
        socket.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe not UTF-8"))
        socket.send_data()
        with pytest.raises(ConnectionClosedError):
            while True:  # who is here comes first
                await asyncio.wait_for(socket.recv(), 5)
        assert socket.close_code == 1007
    finally:
        await asyncio.to_thread(server.stop)
    lines = [json.loads(line) for line in (tmp_path / "server.log").read_text().splitlines()]
    assert [line for line in lines if line["level"] not in ("INFO", "DEBUG")] == []
    assert not any("exc_info" in line for line in lines)
    [calm] = [line for line in lines if "UTF-8" in line["event"]]
    assert calm == {**calm, "level": "INFO", "code": 1007}


def test_a_request_for_a_host_the_site_does_not_serve_logs_one_warning_without_a_traceback(
    client,
):
    from chat.logs import CalmClientFaults

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLogFormatter())
    handler.addFilter(CalmClientFaults())
    logger = logging.getLogger("django.security.DisallowedHost")
    logger.addHandler(handler)
    try:
        response = client.get("/", headers={"host": "attacker.example"})
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 400
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["level"] == "WARNING"
    assert "attacker.example" in line["event"]
    assert "exc_info" not in line
