"""A tiny HTTP/1.1 client on asyncio streams, and joining a room as a browser does.

One connection per request (`Connection: close`), which keeps the client to a few lines
and costs the same for every request it times.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from time import perf_counter
from urllib.parse import urlencode

CSRF_INPUT = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')
ROOM_LOCATION = re.compile(r"/r/(\d+)/$")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    seconds: float  # from opening the connection to the last byte

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((value for key, value in self.headers if key == name), None)

    def cookies(self) -> dict[str, str]:
        jar: SimpleCookie = SimpleCookie()
        for key, value in self.headers:
            if key == "set-cookie":
                jar.load(value)
        return {name: morsel.value for name, morsel in jar.items()}


class JoinFailed(Exception):
    pass


async def request(
    host: str,
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Response:
    started = perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        raw = await reader.read()
    finally:
        writer.close()
    seconds = perf_counter() - started
    head, _, payload = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    response_headers = []
    for line in header_lines:
        name, _, value = line.partition(":")
        response_headers.append((name.strip().lower(), value.strip()))
    response = Response(int(status_line.split()[1]), response_headers, payload, seconds)
    if response.header("transfer-encoding") == "chunked":
        response.body = _unchunk(payload)
    return response


def _unchunk(payload: bytes) -> bytes:
    chunks, position = [], 0
    while True:
        line_end = payload.index(b"\r\n", position)
        size = int(payload[position:line_end].split(b";")[0], 16)
        if size == 0:
            return b"".join(chunks)
        chunks.append(payload[line_end + 2 : line_end + 2 + size])
        position = line_end + 2 + size + 2


async def join(
    host: str, port: int, *, name: str, room: str, session: str | None = None
) -> tuple[str, int]:
    """Join `room` as `name` through the front page, as a browser does (with `session`, as
    the browser that holds that session cookie).

    Returns the session cookie and the room id (from the redirect to /r/<id>/).
    """
    origin = f"http://{host}:{port}"
    cookies = f"sessionid={session}; " if session else ""
    front = await request(host, port, "GET", "/", headers={"Cookie": cookies} if cookies else None)
    csrf_cookie = front.cookies().get("csrftoken")
    token = CSRF_INPUT.search(front.body)
    if front.status != 200 or csrf_cookie is None or token is None:
        raise JoinFailed(f"GET / gave {front.status} without a CSRF cookie and token")
    form = urlencode({"csrfmiddlewaretoken": token.group(1).decode(), "name": name, "room": room})
    posted = await request(
        host,
        port,
        "POST",
        "/",
        headers={
            "Cookie": f"{cookies}csrftoken={csrf_cookie}",
            "Origin": origin,
            "Referer": f"{origin}/",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        body=form.encode(),
    )
    session = posted.cookies().get("sessionid") or session
    room_match = ROOM_LOCATION.search(posted.header("location") or "")
    if posted.status != 302 or session is None or room_match is None:
        raise JoinFailed(f"POST / as {name!r} gave {posted.status}: {posted.body[:300]!r}")
    return session, int(room_match.group(1))
