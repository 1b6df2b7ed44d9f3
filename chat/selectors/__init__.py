"""Every read: pages, the room log after a number, rooms."""

from chat.selectors.events import catch_up, room_events_after
from chat.selectors.messages import (
    message_state,
    message_to_wire,
    messages_before,
    messages_with_state,
    reactions_of,
    reply_preview,
    wire_messages,
)
from chat.selectors.rooms import MAX_ID, room_get, room_last_seq, room_position, rooms_recent

__all__ = [
    "MAX_ID",
    "catch_up",
    "message_state",
    "message_to_wire",
    "messages_before",
    "messages_with_state",
    "reactions_of",
    "reply_preview",
    "room_events_after",
    "room_get",
    "room_last_seq",
    "room_position",
    "rooms_recent",
    "wire_messages",
]
