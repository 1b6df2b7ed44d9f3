"""Editing and deleting a message: each a numbered event of the room, in the transaction
that changes the message, announced on commit. A change that changes nothing (the same
text again, a deleted message deleted again) takes no number, so a client may send it
again freely."""

from __future__ import annotations

from django.utils import timezone

from chat import protocol
from chat.access import moderates, outsiders
from chat.formatting import render
from chat.models import Mention, Message, Reaction, RoomEvent, User
from chat.selectors import message_state, messages_with_state
from chat.services.files import files_delete_of
from chat.services.log import (
    Forbidden,
    Gone,
    NotAMember,
    NotFound,
    in_transaction,
    lock_room,
    record_change,
    take_number,
)
from chat.services.mentions import members_named, mentions_in, mentions_replace


def message_to_change(room_id: int, seq: int, person: User) -> Message:
    """The room's message numbered `seq`, read under the room's lock (see lock_room), for
    a change by `person` (NotAMember: a private room they are not in)."""
    lock_room(room_id)
    if outsiders({(room_id, person)}):
        raise NotAMember("You are not a member of this private room.")
    message = messages_with_state().filter(room_id=room_id, seq=seq).first()
    if message is None:
        raise NotFound("No message with that number in this room.")
    return message


def message_edit(
    *,
    room_id: int,
    editor: User,
    message_seq: int,
    text: str,
    mentions: tuple[int, ...] | list[int] = (),
) -> protocol.WireMessage:
    """Replace the text of the editor's own message (and whom it mentions). Raises
    NotFound, Forbidden (someone else's message) or Gone (deleted); returns the message as
    it is now."""

    def write() -> protocol.WireMessage:
        message = message_to_change(room_id, message_seq, editor)
        if message.sender_id != editor.pk:
            raise Forbidden("Only its sender can edit a message.")
        if message.deleted:
            raise Gone("That message has been deleted.")
        kept = mentions_in(
            room_id=room_id,
            sender_id=editor.pk,
            text=text,
            ids=list(mentions),
            members=members_named((room_id, person_id) for person_id in mentions),
        )
        if message.text != text or message.mentions != kept:
            seq = take_number(room_id)
            mentions_replace(message, kept)
            message.text, message.edited_at, message.version = text, timezone.now(), seq
            message.html = render(text, kept)
            message.save(update_fields=["text", "html", "edited_at", "version", "mentions"])
            state = state_now(room_id, message_seq)
            record_change(
                message,
                seq,
                RoomEvent.MESSAGE_EDITED,
                protocol.MessageEdited(seq=seq, message=state),
            )
            return state
        return state_now(room_id, message_seq)

    return in_transaction(write)


def message_delete(*, room_id: int, deleter: User, message_seq: int) -> protocol.WireMessage:
    """Make the message a tombstone: its text and reactions go, its place stays. Its sender
    may, and the room's owners and moderators, and staff. Raises NotFound or Forbidden;
    returns the tombstone."""

    def write() -> protocol.WireMessage:
        message = message_to_change(room_id, message_seq, deleter)
        if message.sender_id != deleter.pk and not moderates(deleter, room_id):
            raise Forbidden("Only its sender or the room's moderators can delete a message.")
        if not message.deleted:
            seq = take_number(room_id)
            message.text, message.html = "", ""
            message.deleted_at, message.version = timezone.now(), seq
            message.mentions = []
            message.save(update_fields=["text", "html", "deleted_at", "version", "mentions"])
            Reaction.objects.filter(message=message).delete()
            Mention.objects.filter(message=message).delete()
            files_delete_of(message)
            state = state_now(room_id, message_seq)
            record_change(
                message,
                seq,
                RoomEvent.MESSAGE_DELETED,
                protocol.MessageDeleted(seq=seq, message=state),
            )
            return state
        return state_now(room_id, message_seq)

    return in_transaction(write)


def state_now(room_id: int, seq: int) -> protocol.WireMessage:
    state = message_state(room_id=room_id, seq=seq)
    assert state is not None  # read in the transaction that holds the room
    return state
