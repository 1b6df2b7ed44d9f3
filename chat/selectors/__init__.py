"""Every read: pages, the room log after a number, rooms, unread."""

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
from chat.selectors.rooms import (
    MAX_ID,
    is_member,
    members_by_prefix,
    room_get,
    room_last_seq,
    room_position,
    rooms_recent,
)
from chat.selectors.unread import (
    UNREAD_CAP,
    MyRoom,
    room_ids_of,
    room_summaries,
    room_summary,
    rooms_of,
    unread_count,
    unread_messages,
)

__all__ = [
    "MAX_ID",
    "UNREAD_CAP",
    "MyRoom",
    "catch_up",
    "is_member",
    "members_by_prefix",
    "message_state",
    "message_to_wire",
    "messages_before",
    "messages_with_state",
    "reactions_of",
    "reply_preview",
    "room_events_after",
    "room_get",
    "room_ids_of",
    "room_last_seq",
    "room_position",
    "room_summaries",
    "room_summary",
    "rooms_of",
    "rooms_recent",
    "unread_count",
    "unread_messages",
    "wire_messages",
]
