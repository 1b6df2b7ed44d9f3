"""Reactions: a person adds or removes one emoji on a message. Each change is a numbered
event carrying who reacts with that emoji now; adding one's reaction twice, or removing
one that is not there, changes nothing and takes no number."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from chat import protocol
from chat.models import Reaction, RoomEvent, User
from chat.selectors.events import reaction_changed
from chat.services.edits import message_to_change, state_now
from chat.services.log import Gone, Refused, in_transaction, record_change, take_number


class TooManyReactions(Refused):
    code = "too_many_reactions"


def reaction_add(
    *, room_id: int, person: User, message_seq: int, emoji: str
) -> protocol.WireMessage:
    return _react(room_id, person, message_seq, emoji, add=True)


def reaction_remove(
    *, room_id: int, person: User, message_seq: int, emoji: str
) -> protocol.WireMessage:
    return _react(room_id, person, message_seq, emoji, add=False)


def _react(
    room_id: int, person: User, message_seq: int, emoji: str, *, add: bool
) -> protocol.WireMessage:
    """Raises NotFound, Gone (a deleted message) or TooManyReactions; returns the message's
    state after the change."""

    def write() -> protocol.WireMessage:
        message = message_to_change(room_id, message_seq, person)
        if message.deleted:
            raise Gone("That message has been deleted.")
        mine = Reaction.objects.filter(message=message, person=person, emoji=emoji)
        if add == mine.exists():
            return state_now(room_id, message_seq)  # already so: nothing changes
        if add:
            emoji_used = Reaction.objects.filter(message=message).values("emoji").distinct()
            if (
                not Reaction.objects.filter(message=message, emoji=emoji).exists()
                and emoji_used.count() >= settings.CHAT_REACTIONS_PER_MESSAGE_MAX
            ):
                most = settings.CHAT_REACTIONS_PER_MESSAGE_MAX
                raise TooManyReactions(f"A message can have at most {most} different reactions.")
            Reaction.objects.create(
                message=message, person=person, emoji=emoji, created_at=timezone.now()
            )
        else:
            mine.delete()
        seq = take_number(room_id)
        message.version = seq
        message.save(update_fields=["version"])
        people = [
            {"id": r.person_id, "name": r.person.name}
            for r in Reaction.objects.filter(message=message, emoji=emoji)
            .select_related("person")
            .order_by("created_at", "id")
        ]
        payload = {"emoji": emoji, "people": people}
        frame = reaction_changed(seq, message, payload)
        record_change(message, seq, RoomEvent.REACTION_CHANGED, frame, payload)
        return state_now(room_id, message_seq)

    return in_transaction(write)
