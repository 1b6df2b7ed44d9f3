"""Every read: pages, the room log after a number, rooms, unread."""

from chat.selectors.events import catch_up, room_events_after
from chat.selectors.files import attachment_for, files_of, wire_file
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
    direct_titles,
    is_member,
    members_by_prefix,
    room_get,
    room_invited_to,
    room_last_seq,
    room_members,
    room_position,
    room_title,
    rooms_recent,
)
from chat.selectors.search import SearchError, search_messages
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
    "SearchError",
    "attachment_for",
    "catch_up",
    "direct_titles",
    "files_of",
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
    "room_invited_to",
    "room_last_seq",
    "room_members",
    "room_position",
    "room_summaries",
    "room_summary",
    "room_title",
    "rooms_of",
    "rooms_recent",
    "search_messages",
    "unread_count",
    "unread_messages",
    "wire_file",
    "wire_messages",
]
