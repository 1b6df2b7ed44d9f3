"""Search: every word of a query, inside words and in any script, in the rooms a person may
see, newest first by keyset; the index follows edits and deletions in their transaction;
results quote what the reader sees with the matches marked. Runs on SQLite (FTS5 trigram)
and, under `make test-postgres`, on PostgreSQL (pg_trgm and full-text)."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from chat import selectors, services
from chat.models import Message, Room
from chat.selectors.search import PAGE_SIZE, SearchError, snippet
from tests.conftest import logged_in, new_client_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


def post(room, sender, text) -> int:
    message, _ = services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id()
    )
    return message.seq


def found(person, query, **where) -> list[int]:
    results = selectors.search_messages(person=person, query=query, **where)
    assert results is not None
    return [hit.seq for hit in results.hits]


def test_a_word_is_found_whole_inside_other_words_and_in_any_case(room, ana):
    deploy = post(room, ana, "We deploy on Fridays")
    redeployed = post(room, ana, "It was REDEPLOYED twice")
    post(room, ana, "nothing to see here")
    assert found(ana, "deploy") == [redeployed, deploy]  # newest first
    assert found(ana, "Deploy") == [redeployed, deploy]
    assert found(ana, "ploy") == [redeployed, deploy]  # a part of a word
    assert found(ana, "fridays") == [deploy]


def test_every_word_of_the_query_must_match_in_any_order(room, ana):
    both = post(room, ana, "the release is ready for review")
    post(room, ana, "the release is late")
    assert found(ana, "review release") == [both]
    assert found(ana, '"is ready"') == [both]  # a quoted phrase, as written
    assert found(ana, '"ready is"') == []


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("東京で会いましょう", "東京"),  # two characters: shorter than a trigram
        ("東京で会いましょう", "会いましょう"),
        ("오늘 회의는 취소되었습니다", "회의"),
        ("明天的会议取消了", "会议取消"),
        ("Größenwahn ist ein Wort", "größenwahn"),
        ("Привет, как дела?", "как"),
    ],
)
def test_chinese_japanese_korean_and_other_scripts_match_inside_text(room, ana, text, query):
    seq = post(room, ana, text)
    post(room, ana, "something else entirely")
    assert found(ana, query) == [seq]


def test_short_words_are_found_too(room, ana):
    seq = post(room, ana, "go to db 7 now")
    assert found(ana, "db") == [seq]
    assert found(ana, "7") == [seq]


def test_edits_and_deletions_update_the_index_in_their_transaction(room, ana):
    seq = post(room, ana, "the old wording")
    with transaction.atomic():
        services.message_edit(room_id=room.pk, editor=ana, message_seq=seq, text="new wording")
        assert found(ana, "old") == []  # inside the edit's own transaction
        assert found(ana, "new") == [seq]
    services.message_delete(room_id=room.pk, deleter=ana, message_seq=seq)
    assert found(ana, "wording") == []


def test_private_rooms_are_searched_only_by_their_members(room_factory, user_factory):
    ana, bo, staff = user_factory("Ana"), user_factory("Bo"), user_factory("Staff")
    staff.is_staff = True
    staff.save()
    secret = Room.objects.create(name="Secret", private=True)
    services.membership_join(room=secret, person=ana)
    seq = post(secret, ana, "the launch code is tulip")
    public = room_factory("Lobby")
    lobby = post(public, bo, "tulip season")
    assert found(ana, "tulip") == [lobby, seq]
    assert found(bo, "tulip") == [lobby]  # not even a hint of the private room
    assert selectors.search_messages(person=bo, query="tulip", room_id=secret.pk) is None
    assert found(staff, "tulip") == [lobby, seq]  # staff see every room, as everywhere


def test_one_room_can_be_searched_alone(room_factory, ana):
    here, there = room_factory("Here"), room_factory("There")
    mine = post(here, ana, "lunch at noon")
    post(there, ana, "lunch at one")
    assert found(ana, "lunch", room_id=here.pk) == [mine]


def test_results_come_twenty_at_a_time_by_keyset(room, ana):
    seqs = [post(room, ana, f"standup notes {n}") for n in range(PAGE_SIZE + 5)]
    first = selectors.search_messages(person=ana, query="standup")
    assert [hit.seq for hit in first.hits] == seqs[::-1][:PAGE_SIZE]
    post(room, ana, "standup notes arriving meanwhile")  # does not shift the next page
    second = selectors.search_messages(person=ana, query="standup", before=first.next_before)
    assert [hit.seq for hit in second.hits] == seqs[::-1][PAGE_SIZE:]
    assert second.next_before is None


def test_results_quote_the_text_as_read_with_the_matches_marked(room, ana, user_factory):
    bo = user_factory("Bo")
    services.membership_join(room=room, person=bo)
    message, _ = services.message_post(
        room_id=room.pk,
        sender=ana,
        text="**Ship** it, @Bo: <script>alert(1)</script> ship!",
        client_id=new_client_id(),
        mentions=(bo.pk,),
    )
    (hit,) = selectors.search_messages(person=ana, query="ship").hits
    assert hit.snippet == [
        ("Ship", True),
        (" it, @Bo: <script>alert(1)</script> ", False),
        ("ship", True),
        ("!", False),
    ]
    assert (hit.sender, hit.room_name, hit.seq) == ("Ana", "General", message.seq)


def test_a_long_text_is_quoted_around_its_first_match():
    text = "word " * 100 + "needle " + "word " * 100
    pieces = snippet(text, ["needle"], width=60)
    quoted = "".join(piece for piece, _ in pieces)
    assert pieces[0] == ("…", False) and pieces[-1] == ("…", False)
    assert ("needle", True) in pieces
    assert len(quoted) <= 62


@pytest.mark.parametrize(
    "query",
    [
        ".* (a|b)+ [x] \\d{3} ^$",  # regex syntax is text
        'NEAR(a b) OR "x" AND -y *',  # and so is full-text query syntax
        "%_%",  # and LIKE's wildcards
        "' OR 1=1 --",
        '"""',
    ],
)
def test_query_syntax_of_every_kind_is_searched_for_as_text(room, ana, query):
    post(room, ana, "plain words only")
    literal = post(room, ana, f"look: {query}")
    assert found(ana, query) == [literal]


def test_wildcards_match_only_themselves(room, ana):
    post(room, ana, "100 percent")
    literal = post(room, ana, "100% sure")
    assert found(ana, "0%") == [literal]
    assert found(ana, "_") == []


def test_a_query_too_long_or_empty_is_refused_with_a_code(ana):
    with pytest.raises(SearchError) as error:
        selectors.search_messages(person=ana, query="x" * 10_000)
    assert error.value.code == "query_too_long"
    with pytest.raises(SearchError) as error:
        selectors.search_messages(person=ana, query="   ")
    assert error.value.code == "query_empty"


def test_the_search_page_shows_results_that_open_the_room_at_the_message(room, ana):
    seq = post(room, ana, "see the <b>roadmap</b> doc")
    page = logged_in(ana).get("/search", {"q": "roadmap", "room": room.pk})
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/r/{room.pk}/?at={seq}"' in html
    assert "&lt;b&gt;<mark>roadmap</mark>&lt;/b&gt;" in html  # highlighted, never markup
    assert "<b>roadmap" not in html


def test_the_search_page_explains_a_refused_query_and_hides_private_rooms(room_factory, ana):
    page = logged_in(ana).get("/search", {"q": "x" * 300})
    assert page.status_code == 400
    assert "at most 200 characters" in page.content.decode()
    secret = Room.objects.create(name="Secret", private=True)
    assert logged_in(ana).get("/search", {"q": "a", "room": secret.pk}).status_code == 404
    assert logged_in(None).get("/search", {"q": "a"}).status_code == 302  # log in first


def test_a_permalink_loads_the_room_from_that_message(room, ana):
    services.messages_import(room_id=room.pk, sender=ana, texts=[f"m{n}" for n in range(300)])
    page = logged_in(ana).get(f"/r/{room.pk}/", {"at": 120})
    config = page.context["config"]
    assert config["focusSeq"] == 120
    assert config["messages"][0]["seq"] <= 120
    for junk in ("junk", "²", "-1", "99999999999999999999999"):
        page = logged_in(ana).get(f"/r/{room.pk}/", {"at": junk})
        assert page.context["config"]["focusSeq"] is None
        assert logged_in(ana).get("/search", {"q": "m1", "before": junk}).status_code == 200


def test_the_index_is_the_databases_own(room, ana):
    """The search index is kept by the database, so messages stored by any path (bulk
    imports included) are found."""
    services.messages_import(room_id=room.pk, sender=ana, texts=["imported needle"])
    assert found(ana, "needle") == [1]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM chat_message_search")
            assert cursor.fetchone()[0] == Message.objects.count()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="word forms are PostgreSQL's full-text search"
)
def test_on_postgresql_other_forms_of_a_whole_word_match(room, ana):
    seq = post(room, ana, "we deployed the servers")
    assert found(ana, "deploying server") == [seq]
    assert found(ana, '"deploying"') == []  # as written, only as written


def test_a_nul_in_a_query_is_no_part_of_it(room, ana):
    # PostgreSQL refuses NUL in any string: it would have failed the query (found by
    # schemathesis through the API).
    found_seq = post(room, ana, "nightly deploy")
    assert found(ana, "deploy\x00") == [found_seq]
    with pytest.raises(SearchError):
        selectors.search_messages(person=ana, query="\x00\x00")
