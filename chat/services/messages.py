"""Posting messages: one transaction for many posts, numbered, announced on commit."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Case, F, Value, When
from django.utils import timezone

from chat import metrics, protocol, realtime
from chat.access import outsiders
from chat.formatting import render
from chat.models import Attachment, Message, Room, User
from chat.selectors import message_to_wire, messages_with_state, wire_file, wire_messages
from chat.services.log import NotAMember, NotFound, NotStored, OutcomeUnknown, RoomNotFound
from chat.services.mentions import members_named, mention_rows_for, mentions_in


@dataclass(frozen=True, slots=True)
class Post:
    room_id: int
    sender: User
    text: str
    client_id: str
    reply_to: int | None = None  # the seq of the message it answers, in the same room
    mentions: tuple[int, ...] = ()  # whom it names, by id
    files: tuple[str, ...] = ()  # the keys of its files, uploaded by its sender to its room
    key: tuple[int, int, str] = field(init=False)  # what makes a resend the same message

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", (self.room_id, self.sender.pk, self.client_id))


PostResult = tuple[protocol.WireMessage, bool]

FILES_NOT_UPLOADED = (
    "A file of this message is not uploaded to this room (or was sent already, or expired): "
    "upload it again."
)


class FileTaken(IntegrityError):
    """Another message took one of a post's files while this transaction ran."""


def message_post(
    *,
    room_id: int,
    sender: User,
    text: str,
    client_id: str,
    reply_to: int | None = None,
    mentions: tuple[int, ...] = (),
    files: tuple[str, ...] = (),
) -> tuple[protocol.WireMessage, bool]:
    """Store `text` as the room's next message (a reply to the message numbered `reply_to`,
    if given) and announce it once committed.

    Returns the message and whether it is new: a resend of a `client_id` that is already
    stored returns the stored message and stores nothing. Raises NotFound for a reply to
    a message the room does not have.
    """
    post = Post(room_id, sender, text, client_id, reply_to, mentions, files)
    result = messages_post_many([post])[0]
    if isinstance(result, Exception):
        raise result
    return result


def messages_post_many(posts: list[Post]) -> list[PostResult | Exception]:
    """Store many posts in one transaction, each as `message_post` would, in order.

    Under load a process gathers the posts of all its sockets into one call, so many
    messages share a transaction. Each result is the stored message and whether it is
    new, or RoomNotFound for a post to a room that no longer exists, or NotFound for a
    reply to a message the room does not have (or, when the batch
    had to be stored post by post, that post's NotStored or OutcomeUnknown). A failure
    of the whole transaction raises NotStored or OutcomeUnknown.
    """
    committing = False
    try:
        with transaction.atomic():
            results = _store_posts(posts)
            committing = True  # what fails from here on fails in the COMMIT
        return results
    except IntegrityError as error:
        if len(posts) == 1:
            # The same client_id raced in through another connection and won.
            stored = _stored_by_client_id(posts)
            if posts[0].key in stored:
                return [(stored[posts[0].key], False)]
            if isinstance(error, FileTaken):
                return [NotFound(FILES_NOT_UPLOADED)]
            raise
        return [_post_alone(post) for post in posts]
    except DatabaseError as error:
        if committing:
            raise OutcomeUnknown from error
        if isinstance(error, OperationalError | InterfaceError):
            # A lost or refused connection before the COMMIT: the transaction is gone.
            raise NotStored from error
        raise


def _post_alone(post: Post) -> PostResult | Exception:
    """One post of a batch that could not be stored together, in a transaction of its own:
    its failure is its own result, and the others' are already stored."""
    try:
        return messages_post_many([post])[0]
    except (NotStored, OutcomeUnknown) as error:
        return error


def _store_posts(posts: list[Post]) -> list[PostResult | Exception]:
    results: dict[tuple[int, int, str], PostResult | Exception] = {
        key: (message, False) for key, message in _stored_by_client_id(posts).items()
    }
    new_posts: dict[tuple[int, int, str], Post] = {}
    for post in posts:
        if post.key not in results:
            new_posts.setdefault(post.key, post)  # a resend within the batch is one message
    originals = _originals(new_posts.values())
    unsent_files = _unsent_files(new_posts.values())
    files_taken: dict[tuple[int, int, str], list[Attachment]] = {}
    by_room: dict[int, list[Post]] = {}
    for post in new_posts.values():
        if post.reply_to is not None and (post.room_id, post.reply_to) not in originals:
            results[post.key] = NotFound("No message with that number in this room to reply to.")
            continue
        if post.files:
            taken = _take_files(post, unsent_files)
            if taken is None:
                results[post.key] = NotFound(FILES_NOT_UPLOADED)
                continue
            files_taken[post.key] = taken
        by_room.setdefault(post.room_id, []).append(post)

    # Everything but the numbers is made before taking them: from the UPDATE to the commit
    # the rooms' rows stay locked, and other workers posting to these rooms wait.
    members = members_named(
        (post.room_id, person_id) for post in new_posts.values() for person_id in post.mentions
    )
    now = timezone.now()
    unnumbered = {
        room_id: [
            Message(
                room_id=room_id,
                sender=post.sender,
                text=post.text,
                client_id=post.client_id,
                created_at=now,
                reply_to=None if post.reply_to is None else originals[(room_id, post.reply_to)],
                mentions=mentions_in(
                    room_id=room_id,
                    sender_id=post.sender.pk,
                    text=post.text,
                    ids=post.mentions,
                    members=members,
                )
                if post.mentions
                else [],
            )
            for post in room_posts
        ]
        for room_id, room_posts in by_room.items()
    }
    for messages in unnumbered.values():
        for message in messages:
            message.html = render(message.text, message.mentions)
    numbers = _take_numbers(
        {room_id: len(room_posts) for room_id, room_posts in by_room.items()}, now
    )
    last_seqs = {room_id: last_seq for room_id, (last_seq, _) in numbers.items()}
    private = {room_id for room_id, (_, is_private) in numbers.items() if is_private}
    if private:
        for post in _outsiders_posts(by_room, unnumbered, last_seqs, private):
            results[post.key] = NotAMember("You are not a member of this private room.")
    if originals:
        # Read again under the rooms' locks: an original deleted or edited meanwhile is
        # quoted as it now is.
        fresh = Message.objects.select_related("sender").in_bulk([m.pk for m in originals.values()])
        for messages in unnumbered.values():
            for message in messages:
                if message.reply_to_id in fresh:
                    message.reply_to = fresh[message.reply_to_id]
    created: list[Message] = []
    for room_id, messages in unnumbered.items():
        if room_id not in last_seqs:
            for post in by_room[room_id]:
                results[post.key] = RoomNotFound(room_id)
            continue
        first_seq = last_seqs[room_id] - len(messages) + 1
        for offset, message in enumerate(messages):
            message.seq = message.version = first_seq + offset
        created.extend(messages)
    Message.objects.bulk_create(created)
    mention_rows_for(message for message in created if message.mentions)
    files_by_message = _attach_files(created, files_taken)

    announcements: dict[int, list[protocol.WireMessage]] = {}
    for message in created:
        wire = message_to_wire(message, files=files_by_message.get(message.pk, ()))
        results[(message.room_id, message.sender_id, message.client_id)] = (wire, True)
        announcements.setdefault(message.room_id, []).append(wire)
    # A resend may be of a message whose COMMIT went through unannounced (its outcome was
    # unknown): say it again. Receivers that have it drop it by its number.
    repeats: dict[int, list[protocol.WireMessage]] = {}
    for key, result in results.items():
        if not isinstance(result, Exception) and not result[1]:
            repeats.setdefault(key[0], []).append(result[0])
    # robust: a failing announcement is logged and must not make a stored post look failed.
    transaction.on_commit(lambda: _announce(announcements, repeats), robust=True)
    return [results[post.key] for post in posts]


def _announce(
    announcements: dict[int, list[protocol.WireMessage]],
    repeats: dict[int, list[protocol.WireMessage]],
) -> None:
    metrics.messages_stored.inc(sum(len(messages) for messages in announcements.values()))
    for room_id, messages in announcements.items():
        realtime.announce(room_id, messages[0].seq, [_created(m) for m in messages])
    for room_id, messages in repeats.items():
        for message in sorted(messages, key=lambda m: m.seq):
            realtime.announce(room_id, message.seq, [_created(message)], repeat=True)


def _created(message: protocol.WireMessage) -> str:
    return protocol.encode(protocol.MessageCreated(seq=message.seq, message=message))


def _originals(posts) -> dict[tuple[int, int], Message]:
    """The messages that these posts answer, by (room, seq), with their senders."""
    wanted: dict[int, set[int]] = {}
    for post in posts:
        if post.reply_to is not None:
            wanted.setdefault(post.room_id, set()).add(post.reply_to)
    originals: dict[tuple[int, int], Message] = {}
    for room_id, seqs in wanted.items():
        for message in Message.objects.filter(room_id=room_id, seq__in=seqs).select_related(
            "sender"
        ):
            originals[(room_id, message.seq)] = message
    return originals


def _unsent_files(posts) -> dict[str, Attachment]:
    """The not yet sent files these posts name, by key."""
    keys = {key for post in posts for key in post.files}
    if not keys:
        return {}
    return {a.key: a for a in Attachment.objects.filter(key__in=keys, message__isnull=True)}


def _take_files(post: Post, unsent: dict[str, Attachment]) -> list[Attachment] | None:
    """The files the post names, in its order, if every one is its sender's upload to its
    room that no earlier post (of this batch too) has taken; they are taken from `unsent`.
    None if any is not."""
    wanted = [unsent.get(key) for key in dict.fromkeys(post.files)]
    files = [a for a in wanted if a is not None]
    if len(files) < len(wanted) or any(
        a.uploader_id != post.sender.pk or a.room_id != post.room_id for a in files
    ):
        return None
    for attachment in files:
        del unsent[attachment.key]
    return files


def _attach_files(
    created: list[Message], taken: dict[tuple[int, int, str], list[Attachment]]
) -> dict[int, list[protocol.WireFile]]:
    """Give each new message the files its post took; their wire states by message id.

    Only files no message has are updated, under the rooms' locks: if another worker's
    message took one since it was looked up, this transaction fails as a conflict and the
    batch is stored post by post (where that post is refused)."""
    by_message: dict[int, list[protocol.WireFile]] = {}
    for message in created:
        files = taken.get((message.room_id, message.sender_id, message.client_id))
        if not files:
            continue
        ids = [a.pk for a in files]
        updated = Attachment.objects.filter(pk__in=ids, message__isnull=True).update(
            message_id=message.pk,
            position=Case(*(When(pk=pk, then=Value(i)) for i, pk in enumerate(ids))),
        )
        if updated != len(ids):
            raise FileTaken("a file of this post was taken by another message meanwhile")
        by_message[message.pk] = [wire_file(a) for a in files]
    return by_message


def _outsiders_posts(
    by_room: dict[int, list[Post]],
    unnumbered: dict[int, list[Message]],
    last_seqs: dict[int, int],
    private: set[int],
) -> list[Post]:
    """Take out the posts to private rooms by people not in them (removed while their
    socket was open), and give back the numbers taken for them: the rooms are locked by
    this transaction, so the numbers after them are still unused. Returns those posts."""
    refused = outsiders(
        {(room_id, post.sender) for room_id in private for post in by_room[room_id]},
        private=private,
    )
    taken_out: list[Post] = []
    for room_id in private:
        kept = [
            (p, m)
            for p, m in zip(by_room[room_id], unnumbered[room_id], strict=True)
            if (room_id, p.sender.pk) not in refused
        ]
        out = len(by_room[room_id]) - len(kept)
        if not out:
            continue
        taken_out.extend(p for p in by_room[room_id] if (room_id, p.sender.pk) in refused)
        by_room[room_id] = [p for p, _ in kept]
        unnumbered[room_id] = [m for _, m in kept]
        Room.objects.filter(pk=room_id).update(last_seq=F("last_seq") - out)
        last_seqs[room_id] -= out
    return taken_out


def _take_numbers(counts: dict[int, int], now) -> dict[int, tuple[int, bool]]:
    """Advance each room's counter by its count, in one statement; each room's new last
    number and whether it is private (rooms that no longer exist are missing).

    The UPDATE locks the rooms' rows until commit, so concurrent writers take numbers one
    after another and a rolled-back write leaves no gap. One raw statement for all rooms:
    through the ORM this was two queries per room, and most of a busy server's time.
    """
    if not counts:
        return {}
    room_ids = sorted(counts)
    increments = " ".join("WHEN %s THEN %s" for _ in room_ids)
    in_list = ", ".join("%s" for _ in room_ids)
    table = Room._meta.db_table
    sql = (
        f"UPDATE {table} SET last_seq = last_seq + CASE id {increments} END, "
        f"last_message_at = %s WHERE id IN ({in_list}) RETURNING id, last_seq, private"
    )
    params = [value for room_id in room_ids for value in (room_id, counts[room_id])]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, now, *room_ids])
        return {room_id: (last_seq, bool(private)) for room_id, last_seq, private in cursor}


def _stored_by_client_id(posts: list[Post]) -> dict[tuple[int, int, str], protocol.WireMessage]:
    """The posts already stored (resends), found through the (room, sender, client_id)
    index in one statement."""
    keys = list({post.key for post in posts})
    with connection.cursor() as cursor:
        cursor.execute(_resend_query(len(keys)), [value for key in keys for value in key])
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return {}
    stored = list(messages_with_state().filter(pk__in=ids))
    return {
        (m.room_id, m.sender_id, m.client_id): wire
        for m, wire in zip(stored, wire_messages(stored), strict=True)
    }


def _resend_query(count: int) -> str:
    # A join from the wanted keys, so both SQLite and PostgreSQL look each one up in the
    # unique index (SQLite scans the whole index for a row-value IN list).
    rows = ", ".join("(%s, %s, %s)" for _ in range(count))
    return (
        f"WITH wanted(room_id, sender_id, client_id) AS (VALUES {rows}) "
        f"SELECT m.id FROM wanted JOIN {Message._meta.db_table} m ON m.room_id = wanted.room_id "
        "AND m.sender_id = wanted.sender_id AND m.client_id = wanted.client_id"
    )


def messages_import(*, room_id: int, sender: User, texts: list[str]) -> int:
    """Append many messages at once (seeding, imports), numbered on from the room's last.
    Nothing is announced: sockets that are open find them through catch-up."""
    with transaction.atomic():
        now = timezone.now()
        if not Room.objects.filter(pk=room_id).update(
            last_seq=F("last_seq") + len(texts), last_message_at=now
        ):
            raise RoomNotFound(room_id)
        last_seq = Room.objects.values_list("last_seq", flat=True).get(pk=room_id)
        first_seq = last_seq - len(texts) + 1
        Message.objects.bulk_create(
            (
                Message(
                    room_id=room_id,
                    seq=first_seq + offset,
                    version=first_seq + offset,
                    sender=sender,
                    text=text,
                    html=render(text),
                    client_id=f"import-{first_seq + offset}",
                    created_at=now,
                )
                for offset, text in enumerate(texts)
            ),
            batch_size=2000,
        )
    return len(texts)
