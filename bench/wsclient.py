"""A lean WebSocket client: an asyncio.Protocol with the handshake done by hand.

The `websockets` client spends enough Python per received frame to saturate a core at
about 50,000 frames/s, and the benchmark's 50 receivers in one room need several times
that from the load generator's single core. This client does the minimum per frame:
read the header, slice out the payload, hand it to a callback together with the time the
bytes came off the socket. Server frames are never masked; client frames always are.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import socket
from collections.abc import Callable
from time import perf_counter

WEBSOCKET_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA

CLOSE_NO_STATUS = 1005  # a close frame without a code
CLOSE_ABNORMAL = 1006  # the connection ended without a close frame

# on_text(payload, received_at): received_at is perf_counter() when the bytes were read.
TextHandler = Callable[[bytes, float], None]


class HandshakeError(Exception):
    def __init__(self, status_line: str, body: bytes):
        super().__init__(f"handshake refused: {status_line} {body[:200]!r}")
        self.status_line = status_line


class ProtocolViolation(Exception):
    pass


def mask_payload(payload: bytes, key: bytes) -> bytes:
    # XOR as one big integer: far faster in Python than a byte loop.
    length = len(payload)
    repeated_key = (key * (length // 4 + 1))[:length]
    masked = int.from_bytes(payload, "little") ^ int.from_bytes(repeated_key, "little")
    return masked.to_bytes(length, "little")


def encode_client_frame(opcode: int, payload: bytes) -> bytes:
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 1 << 16:
        header = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
    key = random.randbytes(4)
    return header + key + mask_payload(payload, key)


class RawWebSocket(asyncio.Protocol):
    """One client socket. `opened` resolves after the 101 response; `closed` resolves with
    the close code once the connection is gone (CLOSE_ABNORMAL when no close frame came)."""

    def __init__(self, *, host: str, port: int, path: str, headers: dict[str, str]):
        loop = asyncio.get_running_loop()
        self.host, self.port, self.path = host, port, path
        self.extra_headers = headers
        self.on_text: TextHandler = lambda payload, received_at: None
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[int] = loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.close_received_at: float | None = None
        self.bytes_received = 0
        self.transport: asyncio.Transport | None = None
        self._key = base64.b64encode(os.urandom(16))
        self._handshaking = True
        self._pending = b""  # bytes of a frame (or of the handshake) not complete yet
        self._fragments: list[bytes] = []
        self._sent_close = False

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports quack like asyncio.Transport without subclassing it.
        self.transport = transport  # type: ignore[assignment]
        lines = [
            f"GET {self.path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self._key.decode()}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in self.extra_headers.items()),
        ]
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        received_at = perf_counter()
        self.bytes_received += len(data)
        if self._pending:
            data = self._pending + data
            self._pending = b""
        if self._handshaking:
            data = self._finish_handshake(data)
            if not data:
                return
        try:
            self._read_frames(data, received_at)
        except ProtocolViolation as error:
            self._fail(error)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or CLOSE_ABNORMAL)

    # Reading

    def _finish_handshake(self, data: bytes) -> bytes:
        head_end = data.find(b"\r\n\r\n")
        if head_end < 0:
            self._pending = data
            return b""
        head, rest = data[:head_end].decode("latin-1"), data[head_end + 4 :]
        status_line, *header_lines = head.split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        expected_accept = base64.b64encode(hashlib.sha1(self._key + WEBSOCKET_GUID).digest())
        if not status_line.startswith("HTTP/1.1 101"):
            self._fail(HandshakeError(status_line, rest))
            return b""
        if headers.get("sec-websocket-accept", "").encode() != expected_accept:
            self._fail(HandshakeError(f"{status_line} (wrong Sec-WebSocket-Accept)", b""))
            return b""
        self._handshaking = False
        self.opened.set_result(None)
        return rest

    def _read_frames(self, data: bytes, received_at: float) -> None:
        position, size = 0, len(data)
        on_text = self.on_text
        while size - position >= 2:
            first, second = data[position], data[position + 1]
            if second & 0x80:
                raise ProtocolViolation("the server masked a frame")
            length = second & 0x7F
            header_size = 2
            if length == 126:
                if size - position < 4:
                    break
                length = (data[position + 2] << 8) | data[position + 3]
                header_size = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(data[position + 2 : position + 10], "big")
                header_size = 10
            end = position + header_size + length
            if end > size:
                break
            payload = data[position + header_size : end]
            position = end
            opcode = first & 0x0F
            if opcode == OP_TEXT and first & 0x80:
                on_text(payload, received_at)
            else:
                self._control_or_fragment(first & 0x80, opcode, payload, received_at)
        if position < size:
            self._pending = data[position:]

    def _control_or_fragment(
        self, fin: int, opcode: int, payload: bytes, received_at: float
    ) -> None:
        if opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
            if opcode == OP_BINARY:
                raise ProtocolViolation("the server sent a binary frame")
            if opcode == OP_TEXT and self._fragments:
                raise ProtocolViolation("a new message began inside a fragmented one")
            self._fragments.append(payload)
            if fin:
                whole = b"".join(self._fragments)
                self._fragments.clear()
                self.on_text(whole, received_at)
        elif opcode == OP_PING:
            self._write(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self.close_code = (
                int.from_bytes(payload[:2], "big") if len(payload) >= 2 else CLOSE_NO_STATUS
            )
            self.close_reason = payload[2:].decode("utf-8", "replace")
            self.close_received_at = received_at
            if not self._sent_close:
                self._sent_close = True
                self._write(OP_CLOSE, payload[:2])
            if self.transport is not None:
                self.transport.close()
        elif opcode != OP_PONG:
            raise ProtocolViolation(f"unknown opcode {opcode}")

    def _fail(self, error: Exception) -> None:
        if not self.opened.done():
            self.opened.set_exception(error)
        if self.transport is not None:
            self.transport.abort()

    # Writing and control

    def _write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(encode_client_frame(opcode, payload))

    def send_text(self, payload: bytes) -> None:
        self._write(OP_TEXT, payload)

    def close(self, code: int = 1000) -> None:
        if not self._sent_close:
            self._sent_close = True
            self._write(OP_CLOSE, code.to_bytes(2, "big"))

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def pause_reading(self) -> None:
        assert self.transport is not None
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        assert self.transport is not None
        self.transport.resume_reading()

    @property
    def is_open(self) -> bool:
        return self.opened.done() and not self.closed.done() and self.close_code is None

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        return self.transport.get_extra_info("sockname")[1]


async def connect(
    *,
    host: str,
    port: int,
    path: str,
    headers: dict[str, str],
    on_text: TextHandler,
    receive_buffer: int | None = None,
    timeout: float = 30.0,
) -> RawWebSocket:
    """Open a socket. `receive_buffer` makes it a client on a slow link: a small kernel
    receive buffer (SO_RCVBUF) and an Ethernet-sized segment (MSS 1448). On loopback the
    MSS is 64 kB, which lets the server's kernel grow this one socket's send buffer to
    4 MB; with a real network's MSS it stays near 600 kB, as it would in production, and
    the server's own bounded buffer is reached in seconds rather than minutes."""
    loop = asyncio.get_running_loop()
    websocket = RawWebSocket(host=host, port=port, path=path, headers=headers)
    websocket.on_text = on_text
    if receive_buffer is None:
        await loop.create_connection(lambda: websocket, host, port)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1448)
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.create_connection(lambda: websocket, sock=sock)
    await asyncio.wait_for(asyncio.shield(websocket.opened), timeout)
    return websocket
