"""Reads: history pages and catch-up are keyset queries whose cost follows the page size."""

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat import selectors, services
from chat.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def room_with(room_factory, user_factory):
    def make(count: int):
        room = room_factory()
        services.messages_import(
            room_id=room.pk, sender=user_factory(), texts=[f"m{n}" for n in range(1, count + 1)]
        )
        return room

    return make


def seqs(page):
    return [message.seq for message in page.messages]


def test_the_first_page_is_the_latest_fifty_oldest_first(room_with):
    page = selectors.messages_before(room_id=room_with(120).pk)
    assert seqs(page) == list(range(71, 121))
    assert page.has_more


def test_older_pages_continue_before_the_given_number(room_with):
    room = room_with(120)
    assert seqs(selectors.messages_before(room_id=room.pk, before_seq=71)) == list(range(21, 71))
    last = selectors.messages_before(room_id=room.pk, before_seq=21)
    assert seqs(last) == list(range(1, 21))
    assert not last.has_more


def test_a_room_of_exactly_one_page_has_nothing_older(room_with):
    assert not selectors.messages_before(room_id=room_with(50).pk).has_more


def catch_up(room, after_seq, page_max=500):
    return selectors.catch_up(
        room_id=room.pk, after_seq=after_seq, epoch=None, page_max=page_max, resync_max=1000
    )


def test_catch_up_returns_what_follows_in_order_and_says_when_there_is_more(room_with):
    room = room_with(10)
    first = catch_up(room, 3, page_max=4)
    assert [json.loads(bytes(event))["seq"] for event in first.events] == [4, 5, 6, 7]
    assert (first.has_more, first.last_seq) == (True, 7)
    rest = catch_up(room, 7, page_max=4)
    assert [json.loads(bytes(event))["seq"] for event in rest.events] == [8, 9, 10]
    assert (rest.has_more, rest.last_seq) == (False, 10)


def test_a_page_costs_the_same_few_queries_whatever_the_room_size(room_with):
    counts = []
    for size in (50, 3000):
        room = room_with(size)
        with CaptureQueriesContext(connection) as queries:
            selectors.messages_before(room_id=room.pk)
            selectors.messages_before(room_id=room.pk, before_seq=40)
            catch_up(room, size - 20)
        counts.append(len(queries))
    # A page: its messages, their reactions, their files. A catch-up: the position, then
    # the messages and the other events over the range, the reactions and the files.
    assert counts == [11, 11]


def test_history_reads_walk_the_room_and_seq_index_without_sorting(room_with):
    room = room_with(100)
    query = Message.objects.filter(room_id=room.pk, seq__lt=60).order_by("-seq")[:51]
    if connection.vendor == "sqlite":
        plan = query.explain()
        assert "USING INDEX" in plan and "room_id=? AND seq<?" in plan
        assert "TEMP B-TREE" not in plan  # the index gives the order
    else:
        with connection.cursor() as cursor:
            # A tiny table tempts the planner to scan; ask whether the index can serve it.
            cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            plan = query.explain()
        assert "Index Scan Backward using message_room_seq_unique" in plan
        assert "Sort" not in plan


def test_rooms_are_listed_most_recently_active_first(room_factory, user_factory):
    quiet, busy = room_factory("quiet"), room_factory("busy")
    room_factory("empty")
    author = user_factory()
    services.messages_import(room_id=quiet.pk, sender=author, texts=["a"])
    services.messages_import(room_id=busy.pk, sender=author, texts=["b"])
    assert [room.name for room in selectors.rooms_recent(person=AnonymousUser())] == [
        "busy",
        "quiet",
        "empty",
    ]
