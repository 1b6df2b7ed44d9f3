"""The reference: the room socket of docs/protocol.md on plain `websockets`, no Django.

It is what one core can do when nothing is stored: the same URL, the same frames, each
`message` encoded once and handed to `websockets.broadcast`. No sessions (any cookie and
origin are welcome), no database, no history: `sync` answers an empty `sync.result`.
Frames are validated as strictly as the product's, so the comparison is about storing and
delivering, not about skipping checks.

    python -m bench.reference_server --port 8765
"""

from __future__ import annotations

import argparse
import itertools
import logging
import re
from datetime import UTC, datetime
from typing import Annotated

import msgspec
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

ClientId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
MESSAGE_MAX_CHARS = 4000
ROOM_PATH = re.compile(r"^/ws/rooms/(\d+)/$")
CLOSE_ROOM_NOT_FOUND = 4404


class SendMessage(msgspec.Struct, tag_field="type", tag="message.send", forbid_unknown_fields=True):
    client_id: ClientId
    text: str


class Sync(msgspec.Struct, tag_field="type", tag="sync", forbid_unknown_fields=True):
    after_seq: Annotated[int, msgspec.Meta(ge=0)]


decode_client_frame = msgspec.json.Decoder(SendMessage | Sync).decode
encode = msgspec.json.Encoder().encode
EMPTY_SYNC_RESULT = encode({"type": "sync.result", "events": [], "has_more": False, "last_seq": 0})


class Room:
    __slots__ = ("last_seq", "sockets")

    def __init__(self) -> None:
        self.sockets: set[ServerConnection] = set()
        self.last_seq = 0


rooms: dict[int, Room] = {}
sender_ids = itertools.count(1)


def error_frame(code: str, detail: str, client_id: str | None = None) -> bytes:
    frame = {"type": "error", "code": code, "detail": detail}
    if client_id is not None:
        frame["client_id"] = client_id
    return encode(frame)


async def handle(websocket: ServerConnection) -> None:
    path = websocket.request.path if websocket.request is not None else ""
    match = ROOM_PATH.match(path)
    if match is None:
        await websocket.close(CLOSE_ROOM_NOT_FOUND)
        return
    room = rooms.setdefault(int(match.group(1)), Room())
    sender_id = next(sender_ids)
    sender = {"id": sender_id, "name": f"Guest {sender_id}"}
    room.sockets.add(websocket)
    try:
        await serve_person(websocket, room, sender)
    except ConnectionClosed:
        pass  # a client that leaves without a close frame is no error here
    finally:
        room.sockets.discard(websocket)


async def serve_person(websocket: ServerConnection, room: Room, sender: dict) -> None:
    async for raw in websocket:
        try:
            frame = decode_client_frame(raw)
        except msgspec.ValidationError as error:
            await websocket.send(error_frame("invalid_field", str(error)), text=True)
            continue
        except msgspec.DecodeError as error:
            await websocket.send(error_frame("invalid_json", str(error)), text=True)
            continue
        if isinstance(frame, Sync):
            await websocket.send(EMPTY_SYNC_RESULT, text=True)
            continue
        text = frame.text.strip()
        if not text or len(text) > MESSAGE_MAX_CHARS:
            code = "blank_message" if not text else "message_too_long"
            await websocket.send(error_frame(code, code, frame.client_id), text=True)
            continue
        room.last_seq += 1
        message = {
            "seq": room.last_seq,
            "text": text,
            "sender": sender,
            "sent_at": datetime.now(UTC),
            "client_id": frame.client_id,
        }
        # As in the product: everyone (the sender too) gets the message, then the ack.
        event = {"type": "message.created", "seq": room.last_seq, "message": message}
        broadcast(room.sockets, encode(event), text=True)
        ack = {"type": "ack", "client_id": frame.client_id, "message": message}
        await websocket.send(encode(ack), text=True)


async def main(host: str, port: int) -> None:
    async with serve(
        handle, host, port, max_size=1024 * 1024, compression=None, backlog=4096
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    uvloop.run(main(arguments.host, arguments.port))
