"""Messages as they are now: history pages, and one message's wire state. Pages are keyset
queries on the (room, seq) index, so their cost follows the page, not the room's size;
they count messages, never other events."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.conf import settings

from chat import protocol
from chat.formatting import render, sanitise
from chat.models import Message, Reaction
from chat.selectors.files import files_of

EXCERPT_MAX_CHARS = 100
FILES_ONLY_EXCERPT = "📎 File"  # what a reply quotes of a message of files and no text


def reply_preview(original: Message) -> protocol.ReplyPreview:
    first_line = original.text.split("\n", 1)[0] or FILES_ONLY_EXCERPT
    if len(first_line) > EXCERPT_MAX_CHARS:
        first_line = first_line[: EXCERPT_MAX_CHARS - 1] + "…"
    return protocol.ReplyPreview(
        seq=original.seq,
        sender=protocol.Sender(id=original.sender_id, name=original.sender.name),
        excerpt="" if original.deleted else first_line,
        deleted=original.deleted,
    )


def message_to_wire(
    message: Message,
    reactions: Sequence[protocol.ReactionState] = (),
    files: Sequence[protocol.WireFile] = (),
) -> protocol.WireMessage:
    """The message's state; its sender (and the original of a reply, with its sender) must
    be loaded with it."""
    return protocol.WireMessage(
        seq=message.seq,
        version=message.version or message.seq,
        text="" if message.deleted else message.text,
        html="" if message.deleted else message_html(message),
        sender=protocol.Sender(id=message.sender_id, name=message.sender.name),
        sent_at=message.created_at,
        client_id=message.client_id,
        edited_at=message.edited_at,
        deleted=message.deleted,
        reply_to=None if message.reply_to is None else reply_preview(message.reply_to),
        reactions=[] if message.deleted else list(reactions),
        mentions=[] if message.deleted else [protocol.Sender(**m) for m in message.mentions],
        files=[] if message.deleted else list(files),
    )


def message_html(message: Message) -> str:
    """The message's rendering, sanitised as it leaves (whatever allowlist it was stored
    under); a message stored before rendering existed is rendered now."""
    if message.html:
        return sanitise(message.html)
    return render(message.text, message.mentions)


def reactions_of(message_ids: Iterable[int]) -> dict[int, list[protocol.ReactionState]]:
    """Each message's reactions, in the order they were first given, in one query."""
    ids = list(message_ids)
    by_message: dict[int, dict[str, protocol.ReactionState]] = {}
    if not ids:
        return {}
    rows = (
        Reaction.objects.filter(message_id__in=ids)
        .select_related("person")
        .order_by("message_id", "created_at", "id")
    )
    for reaction in rows:
        states = by_message.setdefault(reaction.message_id, {})
        state = states.get(reaction.emoji)
        if state is None:
            state = states[reaction.emoji] = protocol.ReactionState(reaction.emoji, [])
        state.people.append(protocol.Sender(id=reaction.person_id, name=reaction.person.name))
    return {message_id: list(states.values()) for message_id, states in by_message.items()}


def wire_messages(messages: Sequence[Message]) -> list[protocol.WireMessage]:
    alive = [m.pk for m in messages if not m.deleted]
    reactions = reactions_of(alive)
    files = files_of(alive)
    return [message_to_wire(m, reactions.get(m.pk, ()), files.get(m.pk, ())) for m in messages]


def messages_with_state():
    return Message.objects.select_related("sender", "reply_to__sender")


def messages_before(
    *, room_id: int, before_seq: int | None = None, limit: int | None = None
) -> protocol.HistoryPage:
    """The `limit` messages just before `before_seq` (the newest when None), oldest first,
    as they are now."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    query = messages_with_state().filter(room_id=room_id)
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    newest_first = list(query.order_by("-seq")[: limit + 1])
    has_more = len(newest_first) > limit
    return protocol.HistoryPage(
        messages=wire_messages(newest_first[:limit][::-1]), has_more=has_more
    )


def messages_after(
    *, room_id: int, after_seq: int, before_seq: int | None = None, limit: int | None = None
) -> protocol.HistoryPage:
    """The `limit` messages just after `after_seq` (and before `before_seq`, if given),
    oldest first, as they are now; `has_more` says whether more follow."""
    limit = limit or settings.CHAT_HISTORY_PAGE_SIZE
    query = messages_with_state().filter(room_id=room_id, seq__gt=after_seq)
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    oldest_first = list(query.order_by("seq")[: limit + 1])
    return protocol.HistoryPage(
        messages=wire_messages(oldest_first[:limit]), has_more=len(oldest_first) > limit
    )


def message_state(*, room_id: int, seq: int) -> protocol.WireMessage | None:
    message = messages_with_state().filter(room_id=room_id, seq=seq).first()
    return None if message is None else wire_messages([message])[0]
