"""Memberships and what is new: joining a room makes you a member (its maker its owner);
unread is what others posted after your read position, exact under deletion, blind to
edits and reactions, capped at 100; the position only moves forward."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.db import connection

from chat import selectors, services
from chat.models import Membership, Room
from tests.conftest import new_client_id
from tests.helpers import capture_events

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("announcements_captured")]


def post(room, sender, text="hello") -> int:
    message, _ = services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id()
    )
    return message.seq


def unread(room, person) -> int:
    membership = Membership.objects.get(room=room, person=person)
    return selectors.unread_count(
        room_id=room.pk, person_id=person.pk, after_seq=membership.last_read_seq
    )


def read(room, person, seq):
    return services.read_mark(person=person, room_id=room.pk, seq=seq)


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


@pytest.fixture
def bo(user_factory):
    return user_factory("Bo")


@pytest.fixture
def lobby(ana, bo):
    room = services.room_join(name="Lobby", person=ana)
    services.room_join(name="lobby", person=bo)
    return room


def test_whoever_makes_a_room_owns_it_and_whoever_joins_is_a_member(lobby, ana, bo):
    roles = dict(Membership.objects.filter(room=lobby).values_list("person__username", "role"))
    assert roles == {"ana": Membership.OWNER, "bo": Membership.MEMBER}


def test_joining_twice_is_one_membership(lobby, bo):
    services.room_join(name="LOBBY", person=bo)
    assert Membership.objects.filter(room=lobby, person=bo).count() == 1


def test_a_newcomer_has_read_everything_already_there(ana, user_factory):
    room = services.room_join(name="Old", person=ana)
    for _ in range(3):
        post(room, ana)
    late = user_factory("Late")
    services.room_join(name="Old", person=late)
    assert unread(room, late) == 0


def test_others_messages_after_the_read_position_are_unread_and_ones_own_are_not(lobby, ana, bo):
    post(lobby, ana)
    post(lobby, bo)
    post(lobby, ana)
    assert (unread(lobby, bo), unread(lobby, ana)) == (2, 1)


def test_deleting_an_unread_message_lowers_the_count_and_a_read_one_does_not(lobby, ana, bo):
    first, second = post(lobby, ana), post(lobby, ana)
    read(lobby, bo, first)
    assert unread(lobby, bo) == 1
    services.message_delete(room_id=lobby.pk, deleter=ana, message_seq=second)
    assert unread(lobby, bo) == 0
    services.message_delete(room_id=lobby.pk, deleter=ana, message_seq=first)
    assert unread(lobby, bo) == 0


def test_edits_and_reactions_never_raise_the_count(lobby, ana, bo):
    seq = post(lobby, ana)
    read(lobby, bo, Room.objects.get(pk=lobby.pk).last_seq)
    services.message_edit(room_id=lobby.pk, editor=ana, message_seq=seq, text="edited")
    services.reaction_add(room_id=lobby.pk, person=ana, message_seq=seq, emoji="👍")
    assert unread(lobby, bo) == 0


def test_the_count_stops_at_a_hundred_shown_as_99_plus(lobby, ana, bo):
    services.messages_import(room_id=lobby.pk, sender=ana, texts=["x"] * 150)
    (mine,) = selectors.rooms_of(person_id=bo.pk)
    assert (mine.unread, mine.unread_label) == (100, "99+")


def test_the_read_position_only_moves_forward_and_never_past_the_room(lobby, ana, bo):
    for _ in range(5):
        post(lobby, ana)
    assert read(lobby, bo, 4) == 4
    assert read(lobby, bo, 2) == 4
    assert read(lobby, bo, 10**9) == 5
    assert unread(lobby, bo) == 0


def test_reading_a_room_one_is_not_in_changes_nothing(room_factory, ana):
    room = room_factory("Elsewhere")
    assert read(room, ana, 3) is None
    assert not Membership.objects.exists()


def test_your_rooms_come_most_recently_active_first_with_their_counts(ana, bo):
    quiet = services.room_join(name="Quiet", person=bo)
    busy = services.room_join(name="Busy", person=bo)
    services.room_join(name="Quiet", person=ana)
    services.room_join(name="Busy", person=ana)
    post(quiet, ana)
    post(busy, ana)
    post(busy, ana)
    assert [(r.room.name, r.unread, r.role) for r in selectors.rooms_of(person_id=bo.pk)] == [
        ("Busy", 2, Membership.OWNER),
        ("Quiet", 1, Membership.OWNER),
    ]


def test_the_unread_count_reads_one_short_range_of_the_room_and_seq_index(lobby, ana, bo):
    services.messages_import(room_id=lobby.pk, sender=ana, texts=["x"] * 300)
    query = selectors.unread_messages(room_id=lobby.pk, person_id=bo.pk, after_seq=10)
    if connection.vendor == "sqlite":
        plan = query.explain()
        assert "USING INDEX" in plan and "(room_id=? AND seq>?)" in plan
        assert "TEMP B-TREE" not in plan  # the index gives the order, so LIMIT stops it
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE chat_message")  # the planner knows the room's size
            cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off")
            plan = query.explain()
        assert "Limit" in plan and "Index Scan using message_room_seq_unique" in plan
        assert "Index Cond: ((room_id = " in plan and "(seq > 10)" in plan
        assert "Sort" not in plan
    print(plan)  # shown with -s: the plan this test holds


@pytest.mark.django_db(transaction=True)
async def test_a_read_frame_moves_the_persons_position_and_every_tab_hears_of_it(socket_for):
    @database_sync_to_async
    def setup():
        ana_, bo_ = (
            services.guest_claim(name=name, current_user=AnonymousUser()) for name in ("A", "B")
        )
        room = services.room_join(name="Sockets", person=ana_)
        services.room_join(name="Sockets", person=bo_)
        for _ in range(3):
            post(room, ana_)
        return room, bo_

    @database_sync_to_async
    def position(room, person):
        return Membership.objects.get(room=room, person=person).last_read_seq

    with capture_events():
        room, bo_ = await setup()
    socket = await socket_for(room, bo_)
    assert (await socket.connect())[0]
    await socket.send_json_to({"type": "read", "seq": 2})
    assert await socket.receive_json_from(timeout=3) == {
        "type": "read.now",
        "room_id": room.pk,
        "last_read_seq": 2,
        "unread": 1,
        "last_seq": 3,
    }
    assert await position(room, bo_) == 2
    await socket.send_json_to({"type": "read", "seq": -1})
    assert (await socket.receive_json_from(timeout=3))["code"] == "invalid_field"
    # A flood is mostly dropped, and the position still only moves forward; what does not
    # move it is not told.
    for seq in range(3, 0, -1):
        await socket.send_json_to({"type": "read", "seq": seq})
    assert (await socket.receive_json_from(timeout=3))["last_read_seq"] == 3
    await socket.send_json_to({"type": "ping"})
    assert (await socket.receive_json_from(timeout=3))["type"] == "pong"
    assert await position(room, bo_) == 3
    await socket.disconnect()
