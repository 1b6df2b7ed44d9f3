"""Search: the messages a person may see that hold every word of a query, newest first, 20
at a time by keyset (the last result's id).

A word matches inside other words and in any script: on PostgreSQL through a trigram index
(pg_trgm) over the text, plus English full-text matching so that other forms of a whole
word match too ("deploying" finds "deployed"); on SQLite through an FTS5 table with the
trigram tokenizer. The database keeps both indexes itself, in the transaction that stores,
edits or deletes the message (migration 0009). Results quote the message as its reader sees
it (the sanitised rendering as text) with the matches marked, never as HTML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from chat import access
from chat.formatting import plain_text
from chat.models import Message, User
from chat.selectors.messages import message_html
from chat.selectors.rooms import direct_titles

QUERY_MAX_CHARS = 200
TERMS_MAX = 8
PAGE_SIZE = 20
TRIGRAM = 3  # the shortest word a trigram index can find; shorter ones are scanned for
SNIPPET_CHARS = 160

# Other forms of a word are found for English words only: for anything else (CJK text,
# numbers) the full-text index adds nothing, and reading it costs a pass over every row.
_ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
# A word, or a "quoted phrase" that must appear as written.
_TERM = re.compile(r'"([^"]+)"|(\S+)')


class SearchError(ValueError):
    """A query that cannot be searched for; `code` is the machine-readable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    exact: bool  # a "quoted phrase": matched as written, never in other forms


@dataclass(frozen=True, slots=True)
class Hit:
    message_id: int
    room_id: int
    room_name: str
    seq: int
    sender: str
    sent_at: datetime
    # The quoted text in pieces: (text, whether it is a match).
    snippet: list[tuple[str, bool]]


@dataclass(frozen=True, slots=True)
class Results:
    hits: list[Hit]
    # Where the next page starts (pass it back as `before`), or None at the last page.
    next_before: int | None


def terms_of(query: str) -> list[Term]:
    # No text holds NUL (PostgreSQL refuses it in a string; stored text never has one).
    query = query.replace("\x00", "")
    if len(query) > QUERY_MAX_CHARS:
        raise SearchError("query_too_long", f"Search for at most {QUERY_MAX_CHARS} characters.")
    terms = [Term(phrase.strip() or word, bool(phrase)) for phrase, word in _TERM.findall(query)]
    terms = [term for term in terms if term.text]
    if not terms:
        raise SearchError("query_empty", "Type a word to search for.")
    return list(dict.fromkeys(terms))[:TERMS_MAX]


def _matching(terms: list[Term]) -> Q:
    vendor = connection.vendor
    where = Q()
    if vendor == "sqlite":
        long_terms = [term.text for term in terms if len(term.text) >= TRIGRAM]
        if long_terms:
            # Each term a quoted string: nothing in it is FTS5 query syntax.
            fts = " ".join('"' + text.replace('"', '""') + '"' for text in long_terms)
            where &= Q(
                id__in=RawSQL(
                    "SELECT rowid FROM chat_message_search WHERE chat_message_search MATCH %s",
                    [fts],
                )
            )
        for term in terms:
            if len(term.text) < TRIGRAM:
                where &= Q(text__icontains=term.text)
        return where
    for term in terms:
        term_matches = Q(text__icontains=term.text)
        if vendor == "postgresql" and not term.exact and _ENGLISH_WORD.fullmatch(term.text):
            term_matches |= Q(
                RawSQL(
                    "chat_message.search_vector @@ plainto_tsquery('english', %s)",
                    [term.text],
                    output_field=BooleanField(),
                )
            )
        where &= term_matches
    return where


def _visible_messages(person: User, room_id: int | None) -> QuerySet[Message] | None:
    messages = Message.objects.filter(deleted_at__isnull=True)
    if room_id is None:
        return messages.filter(room_id__in=access.rooms_visible(person).values("pk"))
    if access.room_access(person, room_id) is None:
        return None
    return messages.filter(room_id=room_id)


def search_messages(
    *,
    person: User,
    query: str,
    room_id: int | None = None,
    before: int | None = None,
    limit: int = PAGE_SIZE,
) -> Results | None:
    """Messages matching every term of `query` in the rooms `person` may see (or only in
    `room_id`), newest first; None when that room is not one they may know of. Raises
    SearchError for a query that cannot be searched for."""
    terms = terms_of(query)
    messages = _visible_messages(person, room_id)
    if messages is None:
        return None
    if before is not None:
        messages = messages.filter(id__lt=before)
    found = list(
        messages.filter(_matching(terms))
        .select_related("sender", "room")
        .order_by("-id")[: limit + 1]
    )
    more = len(found) > limit
    found = found[:limit]
    titles = direct_titles(
        room_ids={m.room_id for m in found if m.room.direct}, viewer_id=person.pk
    )
    hits = [
        Hit(
            message_id=m.pk,
            room_id=m.room_id,
            room_name=titles.get(m.room_id) or m.room.name,
            seq=m.seq,
            sender=m.sender.name,
            sent_at=m.created_at,
            snippet=snippet(plain_text(message_html(m)), [term.text for term in terms]),
        )
        for m in found
    ]
    return Results(hits=hits, next_before=found[-1].pk if more else None)


def snippet(text: str, terms: list[str], width: int = SNIPPET_CHARS) -> list[tuple[str, bool]]:
    """`text` around its first match, cut to about `width` characters, in pieces marked
    as matching or not."""
    longest_first = sorted(terms, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(term) for term in longest_first), re.IGNORECASE)
    spans = [m.span() for m in pattern.finditer(text)]
    start = 0
    if spans and spans[0][0] > width // 3 and len(text) > width:
        start = max(0, min(spans[0][0] - width // 3, len(text) - width))
        space = text.find(" ", start)
        if 0 <= space < spans[0][0]:
            start = space + 1
    end = min(len(text), start + width)
    pieces: list[tuple[str, bool]] = [("…", False)] if start else []
    at = start
    for span_start, span_end in spans:
        if span_end <= start or span_start >= end:
            continue
        span_start, span_end = max(span_start, start), min(span_end, end)
        if span_start > at:
            pieces.append((text[at:span_start], False))
        pieces.append((text[span_start:span_end], True))
        at = span_end
    if at < end:
        pieces.append((text[at:end], False))
    if end < len(text):
        pieces.append(("…", False))
    return pieces
