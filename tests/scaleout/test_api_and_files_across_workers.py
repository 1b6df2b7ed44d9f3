"""The API and files over two real workers: a long poll on one worker wakes for a message
posted through the other, and the file it carries, uploaded to one worker, downloads from
the other (workers on one host share var/files; several hosts share an S3 store)."""

from __future__ import annotations

import asyncio
import io
import json
import secrets

import pytest
from PIL import Image

from bench.httpclient import join, request
from tests.live_server import manage

pytestmark = pytest.mark.scaleout


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (20, 160, 90)).save(out, "PNG")
    return out.getvalue()


def multipart(name: str, data: bytes) -> tuple[str, bytes]:
    boundary = secrets.token_hex(12)
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


async def test_a_long_poll_on_one_worker_wakes_for_a_post_with_a_file_through_the_other(
    deployment,
):
    first, second = deployment.workers
    name = f"ana-{secrets.token_hex(3)}"
    session, room_id = await join(
        first.host, first.port, name=name, room=f"ops {secrets.token_hex(3)}"
    )
    token = manage(deployment.env, "api_token", name, "--name", "scale-out test").strip()
    bearer = {"Authorization": f"Bearer {token}"}

    # Upload through the first worker, as the page does (its session and CSRF token).
    front = await request(
        first.host, first.port, "GET", "/", headers={"Cookie": f"sessionid={session}"}
    )
    csrf = front.cookies()["csrftoken"]
    content_type, body = multipart("field.png", png())
    uploaded = await request(
        first.host,
        first.port,
        "POST",
        f"/r/{room_id}/files",
        headers={
            "Cookie": f"sessionid={session}; csrftoken={csrf}",
            "X-CSRFToken": csrf,
            "Origin": first.url,
            "Referer": f"{first.url}/r/{room_id}/",
            "Content-Type": content_type,
        },
        body=body,
    )
    assert uploaded.status == 201, uploaded.body[:300]
    file = json.loads(uploaded.body)

    room = json.loads(
        (
            await request(
                second.host, second.port, "GET", f"/api/v1/rooms/{room_id}", headers=bearer
            )
        ).body
    )
    polling = asyncio.create_task(
        request(
            second.host,
            second.port,
            "GET",
            f"/api/v1/rooms/{room_id}/events?after={room['last_seq']}&wait=15",
            headers=bearer,
        )
    )
    await asyncio.sleep(0.5)
    assert not polling.done()  # nothing new yet: it waits
    posted = await request(
        first.host,
        first.port,
        "POST",
        f"/api/v1/rooms/{room_id}/messages",
        headers={**bearer, "Content-Type": "application/json"},
        body=json.dumps(
            {"client_id": "across-1", "text": "the field", "files": [file["key"]]}
        ).encode(),
    )
    assert posted.status == 201, posted.body[:300]
    woke = await asyncio.wait_for(polling, 10)
    assert woke.seconds < 5  # woken by the event, not by the end of its wait
    [event] = json.loads(woke.body)["events"]
    assert (event["type"], event["message"]["text"]) == ("message.created", "the field")
    assert event["message"]["files"] == [file]

    downloaded = await request(
        second.host, second.port, "GET", file["url"], headers={"Cookie": f"sessionid={session}"}
    )
    assert downloaded.status == 200
    assert Image.open(io.BytesIO(downloaded.body)).size == (300, 200)
