"""The only module that touches the channel layer.

Services call `announce_message` once a message is committed; every consumer in the room
receives the event already encoded, so relaying it to a socket is a plain send.
"""

from __future__ import annotations

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from chat import protocol

RELAY_EVENT = "chat.relay"  # handled by ChatConsumer.chat_relay


def room_group(room_id: int) -> str:
    return f"room.{room_id}"


def announce_message(room_id: int, message: protocol.WireMessage) -> None:
    """Send a stored message to every socket in its room. Called on commit, from sync code."""
    text = protocol.encode(protocol.MessageEvent(message=message))
    async_to_sync(get_channel_layer().group_send)(
        room_group(room_id), {"type": RELAY_EVENT, "text": text}
    )


async def join_room(room_id: int, channel_name: str) -> None:
    await get_channel_layer().group_add(room_group(room_id), channel_name)


async def leave_room(room_id: int, channel_name: str) -> None:
    await get_channel_layer().group_discard(room_group(room_id), channel_name)
