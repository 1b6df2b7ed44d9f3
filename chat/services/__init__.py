"""Every write, one module per feature: check, write, take a number, announce on commit.

Only services call `realtime.announce`, and only from `transaction.on_commit`.
"""

from chat.services.direct import direct_open
from chat.services.edits import message_delete, message_edit
from chat.services.files import (
    FileTooLarge,
    ImageTooLarge,
    UploadsLimited,
    bytes_stored,
    file_recorded,
    file_upload_allowed,
    files_prune_unsent,
)
from chat.services.log import (
    Forbidden,
    Gone,
    NotAMember,
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
from chat.services.owners import (
    NameTakenByRoom,
    invite_accept,
    invite_renew,
    invite_revoke,
    member_remove,
    member_role_set,
    membership_ended,
    room_privacy_set,
    room_rename,
)
from chat.services.reactions import TooManyReactions, reaction_add, reaction_remove
from chat.services.rooms import NameTaken, guest_claim

__all__ = [
    "FileTooLarge",
    "Forbidden",
    "Gone",
    "ImageTooLarge",
    "NameTaken",
    "NameTakenByRoom",
    "NotAMember",
    "NotFound",
    "NotStored",
    "OutcomeUnknown",
    "Post",
    "PostResult",
    "Refused",
    "RoomNotFound",
    "TooManyReactions",
    "UploadsLimited",
    "bytes_stored",
    "direct_open",
    "file_recorded",
    "file_upload_allowed",
    "files_prune_unsent",
    "guest_claim",
    "invite_accept",
    "invite_renew",
    "invite_revoke",
    "member_remove",
    "member_role_set",
    "membership_ended",
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
    "room_privacy_set",
    "room_rename",
]
