"""Writes: names, rooms, and messages stored once, numbered without gaps, announced on commit."""

from __future__ import annotations

import threading
from unittest import mock

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, OperationalError, connection, transaction

from chat import protocol, services
from chat.models import Message, Room, User
from chat.services import messages as posting
from tests.conftest import new_client_id
from tests.helpers import capture_events

pytestmark = pytest.mark.django_db


@pytest.fixture
def announced():
    with capture_events() as events:
        yield events


def created_event(message: protocol.WireMessage) -> protocol.MessageCreated:
    return protocol.MessageCreated(seq=message.seq, message=message)


def post(room, sender, text="hello", client_id=None):
    return services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=client_id or new_client_id()
    )


# Names


def test_a_new_name_makes_a_guest_without_a_usable_password():
    user = services.guest_claim(name="Zoë 🌸", current_user=AnonymousUser())
    assert user.name == "Zoë 🌸"
    assert not user.has_usable_password()


def test_a_name_held_by_someone_else_is_refused_whatever_its_case(user_factory):
    user_factory("Ana")
    with pytest.raises(services.NameTaken):
        services.guest_claim(name="ANA", current_user=AnonymousUser())


def test_the_holder_of_a_name_keeps_it(user_factory):
    ana = user_factory("Ana")
    assert services.guest_claim(name="Ana", current_user=ana) == ana


def test_a_guest_who_picks_a_free_name_is_renamed_and_keeps_their_messages(
    user_factory, room_factory
):
    guest = user_factory("Old name")
    post(room_factory(), guest)
    renamed = services.guest_claim(name="New name", current_user=guest)
    assert renamed.pk == guest.pk
    assert Message.objects.get().sender.name == "New name"
    assert not User.objects.filter(display_name="Old name").exists()


def test_a_guest_cannot_rename_into_a_name_someone_holds(user_factory):
    user_factory("Taken")
    guest = user_factory("Mine")
    with pytest.raises(services.NameTaken):
        services.guest_claim(name="taken", current_user=guest)


# Rooms


def test_rooms_are_found_case_insensitively_and_keep_the_name_as_first_typed(user_factory):
    first = services.room_join(name="Café Lounge", person=user_factory())
    again = services.room_join(name="CAFÉ LOUNGE", person=user_factory())
    assert again.pk == first.pk
    assert again.name == "Café Lounge"
    assert Room.objects.count() == 1


# Messages


def test_messages_are_numbered_one_two_three_per_room(room_factory, user_factory, announced):
    general, other = room_factory(), room_factory()
    alice = user_factory()
    seqs = [post(general, alice)[0].seq for _ in range(3)] + [post(other, alice)[0].seq]
    assert seqs == [1, 2, 3, 1]


def test_identical_text_twice_is_two_messages(room_factory, user_factory, announced):
    room, alice = room_factory(), user_factory()
    post(room, alice, "same")
    post(room, alice, "same")
    assert list(Message.objects.values_list("seq", "text")) == [(1, "same"), (2, "same")]


def test_a_resend_with_the_same_client_id_stores_nothing_new(
    room_factory, user_factory, announced, django_capture_on_commit_callbacks
):
    room, alice = room_factory(), user_factory()
    with django_capture_on_commit_callbacks(execute=True):
        first, created = post(room, alice, "hi", client_id="c-1")
        again, created_again = post(room, alice, "hi", client_id="c-1")
    assert (created, created_again) == (True, False)
    assert again == first
    assert Message.objects.count() == 1
    # Announced as new once; the resend again as a repeat, for receivers that missed it
    # (its first COMMIT may have gone through unannounced). Repeats are dropped by number.
    assert announced.calls == [
        (room.pk, [created_event(first)], False),
        (room.pk, [created_event(first)], True),
    ]


def test_a_lost_connection_before_the_commit_means_nothing_is_stored(
    room_factory, user_factory, announced
):
    room, alice = room_factory(), user_factory()
    with (
        mock.patch.object(posting, "_take_numbers", side_effect=OperationalError("gone")),
        pytest.raises(services.NotStored),
    ):
        post(room, alice, client_id="c-1")
    assert Message.objects.count() == 0
    assert announced.calls == []


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_in_the_commit_makes_the_outcome_unknown_and_a_resend_finds_out(
    room_factory, user_factory, announced
):
    room, alice = room_factory(), user_factory()
    real_commit = connection.commit

    def commit_then_lose_the_answer():
        real_commit()  # the database has committed; the answer never arrives
        raise OperationalError("server closed the connection unexpectedly")

    with (
        mock.patch.object(connection, "commit", commit_then_lose_the_answer),
        pytest.raises(services.OutcomeUnknown),
    ):
        post(room, alice, "maybe", client_id="c-1")
    assert announced.calls == []

    message, created = post(room, alice, "maybe", client_id="c-1")
    assert (message.seq, created) == (1, False)
    assert Message.objects.count() == 1
    assert announced.calls == [(room.pk, [created_event(message)], True)]


def test_the_same_client_id_from_two_people_is_two_messages(room_factory, user_factory, announced):
    room = room_factory()
    post(room, user_factory(), client_id="same-id")
    post(room, user_factory(), client_id="same-id")
    assert Message.objects.count() == 2


def test_a_message_is_announced_once_after_commit(
    room_factory, user_factory, announced, django_capture_on_commit_callbacks
):
    room, alice = room_factory(), user_factory("Alice")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message, _ = post(room, alice, "hi")
        assert announced.calls == []
    for callback in callbacks:
        callback()
    assert announced.calls == [(room.pk, [created_event(message)], False)]


def test_nothing_is_announced_or_numbered_for_a_rolled_back_write(
    room_factory, user_factory, announced, django_capture_on_commit_callbacks
):
    room, alice = room_factory(), user_factory()
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        post(room, alice)
        raise RuntimeError("the surrounding work failed")
    assert announced.calls == []
    assert post(room, alice)[0].seq == 1


def test_posting_to_a_missing_room_raises(user_factory, announced):
    with pytest.raises(services.RoomNotFound):
        services.message_post(room_id=424242, sender=user_factory(), text="x", client_id="c")


def test_an_import_continues_the_numbering(room_factory, user_factory, announced):
    room, alice = room_factory(), user_factory()
    post(room, alice)
    services.messages_import(room_id=room.pk, sender=alice, texts=["a", "b"])
    assert post(room, alice)[0].seq == 4
    assert list(Message.objects.order_by("seq").values_list("seq", flat=True)) == [1, 2, 3, 4]


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_are_numbered_without_gaps_or_repeats(
    room_factory, user_factory, announced
):
    room = room_factory()
    writers, per_writer = 4, 25
    senders = [user_factory() for _ in range(writers)]
    start = threading.Barrier(writers)
    failures = []

    def write(sender):
        try:
            start.wait()
            for index in range(per_writer):
                post(room, sender, f"{sender.pk}:{index}")
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    total = writers * per_writer
    assert list(
        Message.objects.filter(room=room).order_by("seq").values_list("seq", flat=True)
    ) == list(range(1, total + 1))
    room.refresh_from_db()
    assert room.last_seq == total
    # Each writer's own messages keep the order they were sent in.
    for sender in senders:
        texts = list(
            Message.objects.filter(sender=sender).order_by("seq").values_list("text", flat=True)
        )
        assert texts == [f"{sender.pk}:{index}" for index in range(per_writer)]


def test_a_batch_stores_each_post_once_in_order_and_announces_once_per_room(
    room_factory, user_factory, announced, django_capture_on_commit_callbacks
):
    general, other = room_factory(), room_factory()
    ana, bo = user_factory(), user_factory()
    stored_before, _ = post(general, ana, "already here", client_id="old")
    batch = [
        services.Post(general.pk, ana, "one", "a1"),
        services.Post(other.pk, bo, "elsewhere", "b1"),
        services.Post(general.pk, bo, "two", "b2"),
        services.Post(general.pk, ana, "one", "a1"),  # resent before its ack came back
        services.Post(general.pk, ana, "already here", "old"),
        services.Post(424242, ana, "nowhere", "a2"),
    ]
    with django_capture_on_commit_callbacks(execute=True):
        results = services.messages_post_many(batch)

    seqs = [(r[0].seq, r[1]) if isinstance(r, tuple) else type(r) for r in results]
    assert seqs == [(2, True), (1, True), (3, True), (2, True), (1, False), services.RoomNotFound]
    assert results[0][0] == results[3][0]
    assert results[4][0] == stored_before
    assert Message.objects.filter(room=general).count() == 3
    announced_new = {
        room_id: [event.seq for event in events]
        for room_id, events, repeat in announced.calls
        if not repeat
    }
    assert announced_new == {general.pk: [2, 3], other.pk: [1]}
    repeated = [
        (room_id, [event.seq for event in events])
        for room_id, events, repeat in announced.calls
        if repeat
    ]
    assert repeated == [(general.pk, [1])]  # the resend of one stored before this batch


def test_a_batch_uses_a_fixed_number_of_queries_whatever_its_size(
    room_factory, user_factory, announced, django_assert_max_num_queries
):
    room, ana = room_factory(), user_factory()
    with django_assert_max_num_queries(6):
        services.messages_post_many(
            [services.Post(room.pk, ana, f"m{n}", f"c{n}") for n in range(100)]
        )
    assert Message.objects.count() == 100


def test_the_resend_check_looks_each_key_up_in_the_unique_index(
    room_factory, user_factory, announced
):
    room, ana = room_factory(), user_factory()
    services.messages_import(room_id=room.pk, sender=ana, texts=["x"] * 50)
    params = [room.pk, ana.pk, "a", room.pk, ana.pk, "b"]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + posting._resend_query(2), params)
            plan = " ".join(str(row) for row in cursor.fetchall())
            assert "(room_id=? AND sender_id=? AND client_id=?)" in plan
        else:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + posting._resend_query(2), params)
            plan = " ".join(row[0] for row in cursor.fetchall())
            assert "message_client_id_unique" in plan


@pytest.mark.django_db(transaction=True)
def test_a_batch_stored_post_by_post_gives_each_post_its_own_outcome(
    room_factory, user_factory, announced
):
    room, ana = room_factory(), user_factory()
    batch = [services.Post(room.pk, ana, text, f"c-{text}") for text in ("one", "two", "three")]
    real_store = posting._store_posts
    calls = 0

    def store(posts):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise IntegrityError("a client id raced in elsewhere")  # the batch as a whole
        if posts[0].text == "two":
            raise OperationalError("connection lost")  # this post alone
        return real_store(posts)

    with mock.patch.object(posting, "_store_posts", store):
        results = services.messages_post_many(batch)

    assert [r[0].text for r in (results[0], results[2])] == ["one", "three"]
    assert isinstance(results[1], services.NotStored)
    assert list(Message.objects.values_list("text", flat=True).order_by("seq")) == ["one", "three"]
