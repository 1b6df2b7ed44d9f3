"""Reactions: one emoji per reaction, each change a numbered event saying who reacts now;
a toggle that changes nothing takes no number."""

from __future__ import annotations

import threading

import pytest
from django.conf import settings
from django.db import connection

from chat import protocol, services
from chat.models import Reaction, Room
from chat.protocol import ProtocolError
from tests.conftest import new_client_id
from tests.helpers import capture_events, verify_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


def post(room, sender, text="lunch?"):
    services.message_post(room_id=room.pk, sender=sender, text=text, client_id=new_client_id())


def add(room, person, emoji="👍", seq=1):
    return services.reaction_add(room_id=room.pk, person=person, message_seq=seq, emoji=emoji)


def remove(room, person, emoji="👍", seq=1):
    return services.reaction_remove(room_id=room.pk, person=person, message_seq=seq, emoji=emoji)


def decode(raw):
    return protocol.decode_client_frame(
        raw, max_bytes=settings.CHAT_FRAME_MAX_BYTES, max_chars=settings.CHAT_MESSAGE_MAX_CHARS
    )


def people(state, emoji="👍"):
    return [p.name for r in state.reactions if r.emoji == emoji for p in r.people]


def test_a_reaction_is_an_event_with_who_reacts_now(room, ana, user_factory):
    post(room, ana)
    bo = user_factory("Bo")
    add(room, bo)
    with verify_action(room.pk) as announced:
        state = add(room, ana)
    assert people(state) == ["Bo", "Ana"]  # in the order they reacted
    assert state.version == 3
    assert announced.events == [
        protocol.ReactionChanged(
            seq=3,
            message_seq=1,
            emoji="👍",
            people=[protocol.Sender(bo.pk, "Bo"), protocol.Sender(ana.pk, "Ana")],
        )
    ]


def test_adding_ones_reaction_twice_or_removing_one_not_there_takes_no_number(room, ana):
    post(room, ana)
    add(room, ana)
    with capture_events() as announced:
        add(room, ana)
        remove(room, ana, "🎉")
    assert announced.events == []
    assert Room.objects.get(pk=room.pk).last_seq == 2
    assert Reaction.objects.count() == 1


def test_removing_the_last_reaction_of_an_emoji_says_nobody_reacts_with_it(room, ana):
    post(room, ana)
    add(room, ana, "🎉")
    with verify_action(room.pk) as announced:
        state = remove(room, ana, "🎉")
    assert state.reactions == []
    assert announced.events[0].people == []


def test_reactions_to_a_deleted_or_missing_message_are_refused(room, ana):
    post(room, ana)
    services.message_delete(room_id=room.pk, deleter=ana, message_seq=1)
    with pytest.raises(services.Gone):
        add(room, ana)
    with pytest.raises(services.NotFound):
        add(room, ana, seq=7)


def test_a_message_takes_a_bounded_number_of_different_emoji(room, ana, user_factory):
    post(room, ana)
    emoji = ["😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃"]
    emoji += ["😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗", "😚", "😙"]
    for one in emoji:
        add(room, ana, one)
    with pytest.raises(services.TooManyReactions):
        add(room, ana, "🤯")
    add(room, user_factory("Bo"), "😀")  # one already there still counts up


@pytest.mark.parametrize("emoji", ["👍", "👍🏽", "👨‍👩‍👧", "🇫🇷", "❤️", "1️⃣"])
def test_any_single_emoji_is_a_reaction(emoji):
    frame = decode(
        f'{{"type": "reaction.add", "message_seq": 1, "emoji": "{emoji}", "client_id": "r1"}}'
    )
    assert frame.emoji == emoji


@pytest.mark.parametrize("text", ["", "a", "👍👍", "+1", "<b>", "👍 ok", "x" * 40])
def test_anything_but_one_emoji_is_an_invalid_reaction(text):
    raw = protocol.encode_json(
        {"type": "reaction.add", "message_seq": 1, "emoji": text, "client_id": "r1"}
    )
    with pytest.raises(ProtocolError) as refused:
        decode(raw)
    assert (refused.value.code, refused.value.client_id) == ("invalid_reaction", "r1")


@pytest.mark.django_db(transaction=True)
def test_ten_people_reacting_at_once_take_ten_numbers_without_a_gap(room_factory, user_factory):
    room = room_factory()
    ana = user_factory("Ana")
    post(room, ana)
    crowd = [user_factory() for _ in range(10)]
    start = threading.Barrier(len(crowd))
    failures = []

    def react(person):
        try:
            start.wait()
            add(room, person)
        except Exception as error:  # reported below, with the thread's own traceback lost
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=react, args=(person,)) for person in crowd]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert Room.objects.get(pk=room.pk).last_seq == 11
    events = list(room.events.order_by("seq").values_list("seq", "payload"))
    assert [seq for seq, _ in events] == list(range(2, 12))
    # Each event says who reacts after it: one more person each time, ten at the end.
    assert [len(payload["people"]) for _, payload in events] == list(range(1, 11))
    assert Reaction.objects.filter(emoji="👍").count() == 10
