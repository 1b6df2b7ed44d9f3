"""Reads: history pages and catch-up are keyset queries whose cost follows the page size."""

import pytest
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


def test_catch_up_returns_what_follows_in_order_and_says_when_there_is_more(room_with, settings):
    room = room_with(10)
    settings.CHAT_CATCH_UP_MAX = 4
    page = selectors.messages_after(room_id=room.pk, after_seq=3)
    assert seqs(page) == [4, 5, 6, 7]
    assert page.has_more
    assert seqs(selectors.messages_after(room_id=room.pk, after_seq=7)) == [8, 9, 10]


def test_a_page_costs_one_query_whatever_the_room_size(room_with):
    small, large = room_with(50), room_with(3000)
    for room in (small, large):
        with CaptureQueriesContext(connection) as queries:
            selectors.messages_before(room_id=room.pk)
            selectors.messages_before(room_id=room.pk, before_seq=40)
            selectors.messages_after(room_id=room.pk, after_seq=10)
        assert len(queries) == 3


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
    assert [room.name for room in selectors.rooms_recent()] == ["busy", "quiet", "empty"]
