"""Two worker processes over PostgreSQL and Redis serve one room as one."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import urllib.request

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.httpclient import join
from tests.live_server import start_server

pytestmark = pytest.mark.scaleout


async def people_in_a_new_room(deployment, count: int) -> tuple[int, list[str]]:
    """A new room and the sessions of `count` people in it, made through the front page of
    worker 1; any worker accepts them."""
    worker = deployment.workers[0]
    room = f"room {secrets.token_hex(4)}"
    sessions = []
    for _ in range(count):
        name = f"p-{secrets.token_hex(4)}"
        session, room_id = await join(worker.host, worker.port, name=name, room=room)
        sessions.append(session)
    return room_id, sessions


async def open_socket(worker, session: str, room_id: int) -> ClientConnection:
    return await connect(
        worker.socket_url(room_id),
        origin=worker.origin,
        additional_headers={"Cookie": f"sessionid={session}"},
        open_timeout=5,
    )


async def messages_until(socket: ClientConnection, count: int, timeout: float = 15) -> list[dict]:
    """The messages of the `message.created` frames this socket receives, until it has
    `count` of them."""
    received: list[dict] = []

    async def read() -> None:
        while len(received) < count:
            frame = json.loads(await socket.recv())
            if frame["type"] == "message.created":
                received.append(frame["message"])

    await asyncio.wait_for(read(), timeout)
    return received


def send_frame(text: str, client_id: str | None = None) -> str:
    return json.dumps(
        {"type": "message.send", "client_id": client_id or secrets.token_hex(8), "text": text}
    )


async def catch_up(socket: ClientConnection, after_seq: int) -> list[dict]:
    messages: list[dict] = []
    while True:
        await socket.send(json.dumps({"type": "sync", "after_seq": after_seq}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
            if frame["type"] == "sync.result":
                break
        messages += [event["message"] for event in frame["events"]]
        if not frame["has_more"]:
            return messages
        after_seq = frame["last_seq"]


async def test_a_message_posted_on_one_worker_reaches_a_socket_on_the_other(deployment):
    room_id, (alice, bob) = await people_in_a_new_room(deployment, 2)
    first, second = deployment.workers
    alice_socket = await open_socket(first, alice, room_id)
    bob_socket = await open_socket(second, bob, room_id)

    await alice_socket.send(send_frame("hello from worker 1"))

    [message] = await messages_until(bob_socket, 1)
    assert (message["seq"], message["text"]) == (1, "hello from worker 1")
    await alice_socket.close()
    await bob_socket.close()


async def test_concurrent_posts_through_both_workers_are_numbered_without_gaps(deployment):
    room_id, (alice, bob, carol) = await people_in_a_new_room(deployment, 3)
    first, second = deployment.workers
    alice_socket = await open_socket(first, alice, room_id)
    bob_socket = await open_socket(second, bob, room_id)
    watcher = await open_socket(second, carol, room_id)
    per_sender = 200

    async def send_all(socket, who):
        for number in range(per_sender):
            await socket.send(send_frame(f"{who} {number}"))

    watching = asyncio.ensure_future(messages_until(watcher, 2 * per_sender, timeout=30))
    await asyncio.gather(send_all(alice_socket, "alice"), send_all(bob_socket, "bob"))
    live = await watching

    stored = await catch_up(watcher, 0)
    assert [m["seq"] for m in stored] == list(range(1, 2 * per_sender + 1))
    # Every message reached the socket on worker 2 once, in order, whichever worker took it.
    assert [m["seq"] for m in live] == list(range(1, 2 * per_sender + 1))
    for who in ("alice", "bob"):  # each sender's messages keep their order
        texts = [m["text"] for m in stored if m["text"].startswith(who)]
        assert texts == [f"{who} {number}" for number in range(per_sender)]
    for socket in (alice_socket, bob_socket, watcher):
        await socket.close()


async def test_a_client_that_loses_its_worker_resumes_on_the_other_with_nothing_lost(deployment):
    room_id, (alice, bob) = await people_in_a_new_room(deployment, 2)
    first, second = deployment.workers
    alice_socket = await open_socket(second, alice, room_id)
    bob_socket = await open_socket(first, bob, room_id)
    await alice_socket.send(send_frame("before"))
    [seen] = await messages_until(bob_socket, 1)

    await bob_socket.close()  # Bob's worker is gone; he comes back through the other one
    for text in ("while away 1", "while away 2", "while away 2"):
        await alice_socket.send(send_frame(text))
    await messages_until(alice_socket, 4)  # its own echo: all three are stored

    bob_socket = await open_socket(second, bob, room_id)
    missed = await catch_up(bob_socket, seen["seq"])
    assert [(m["seq"], m["text"]) for m in missed] == [
        (2, "while away 1"),
        (3, "while away 2"),
        (4, "while away 2"),
    ]
    await alice_socket.close()
    await bob_socket.close()


async def test_a_worker_stopped_with_sigterm_closes_with_1012_and_its_clients_resume_elsewhere(
    deployment, tmp_path
):
    room_id, (alice, bob) = await people_in_a_new_room(deployment, 2)
    staying = deployment.workers[1]
    leaving = start_server(deployment.env, tmp_path / "leaving.log")
    alice_socket = await open_socket(staying, alice, room_id)
    bob_socket = await open_socket(leaving, bob, room_id)
    await alice_socket.send(send_frame("before the restart"))
    [seen] = await messages_until(bob_socket, 1)

    leaving.process.send_signal(signal.SIGTERM)
    with pytest.raises(ConnectionClosed):
        while True:  # who is here may change first
            await asyncio.wait_for(bob_socket.recv(), 10)
    assert bob_socket.close_code == 1012  # "restarting": the browser reconnects at once
    # It finished its shutdown within the timeout (uvicorn re-raises SIGTERM once done).
    assert await asyncio.to_thread(leaving.process.wait, 15) in (0, -signal.SIGTERM)

    await alice_socket.send(send_frame("while bob moves"))
    bob_socket = await open_socket(staying, bob, room_id)
    missed = await catch_up(bob_socket, seen["seq"])
    assert [m["text"] for m in missed] == ["while bob moves"]
    await alice_socket.close()
    await bob_socket.close()


async def test_either_workers_metrics_count_the_sockets_and_messages_of_both(deployment):
    room_id, (alice, bob) = await people_in_a_new_room(deployment, 2)
    first, second = deployment.workers
    alice_socket = await open_socket(first, alice, room_id)
    bob_socket = await open_socket(second, bob, room_id)
    await alice_socket.send(send_frame("counted once"))
    await messages_until(bob_socket, 1)

    page = await asyncio.to_thread(read_metrics, second)
    assert page["chat_connections_open"] >= 2  # one here, one on the other worker
    assert page["chat_messages_stored_total"] >= 1  # stored by the other worker
    await alice_socket.close()
    await bob_socket.close()


def read_metrics(worker) -> dict[str, float]:
    with urllib.request.urlopen(worker.url + "/metrics", timeout=5) as answer:
        lines = answer.read().decode().splitlines()
    return {
        name: float(value)
        for name, _, value in (line.partition(" ") for line in lines if line and line[0] != "#")
    }


async def test_a_persons_message_limit_holds_across_workers(deployment, tmp_path):
    """Two workers with a limit of 5 messages in 10 s: a person posting through both gets 5
    stored, whichever worker each went to, and is told when to send the rest again."""
    limited = {**deployment.env, "CHAT_RATE_BURST": "5", "CHAT_RATE_PER_SECOND": "0.5"}
    workers = [start_server(limited, tmp_path / f"limited{n}.log") for n in (1, 2)]
    try:
        room_id, (alice,) = await people_in_a_new_room(deployment, 1)
        sockets = [await open_socket(worker, alice, room_id) for worker in workers]
        for number in range(8):
            await sockets[number % 2].send(send_frame(f"message {number}"))
        answers = []
        for socket in sockets:
            while len([a for a in answers if a[0] is socket]) < 4:
                frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                if frame["type"] in ("ack", "error"):
                    answers.append((socket, frame))
        frames = [frame for _, frame in answers]
        assert sum(frame["type"] == "ack" for frame in frames) == 5
        refused = [frame for frame in frames if frame["type"] == "error"]
        assert {frame["code"] for frame in refused} == {"rate_limited"}
        assert all(0 < frame["retry_after_ms"] <= 10_000 for frame in refused)
        for socket in sockets:
            await socket.close()
    finally:
        for worker in workers:
            worker.stop()
