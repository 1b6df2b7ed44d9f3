"""Every write, one module per feature: check, write, take a number, announce on commit.

Only services call `realtime.announce`, and only from `transaction.on_commit`.
"""

from chat.services.edits import message_delete, message_edit
from chat.services.log import (
    Forbidden,
    Gone,
    NotFound,
    NotStored,
    OutcomeUnknown,
    Refused,
    RoomNotFound,
)
from chat.services.memberships import membership_join, notify_set, read_mark, room_join
from chat.services.messages import (
    Post,
    PostResult,
    message_post,
    messages_import,
    messages_post_many,
)
from chat.services.reactions import TooManyReactions, reaction_add, reaction_remove
from chat.services.rooms import NameTaken, guest_claim

__all__ = [
    "Forbidden",
    "Gone",
    "NameTaken",
    "NotFound",
    "NotStored",
    "OutcomeUnknown",
    "Post",
    "PostResult",
    "Refused",
    "RoomNotFound",
    "TooManyReactions",
    "guest_claim",
    "membership_join",
    "message_delete",
    "message_edit",
    "message_post",
    "messages_import",
    "messages_post_many",
    "notify_set",
    "reaction_add",
    "reaction_remove",
    "read_mark",
    "room_join",
]
