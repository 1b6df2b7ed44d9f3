"""Mentions: stored as who was mentioned (the ids the composer suggested), only members of
the room whose "@name" the text holds; edits change them, deletions remove them; each
person's unread mentions are counted in their room list."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from chat import selectors, services
from chat.models import Mention, Room
from tests.conftest import new_client_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("announcements_captured")]


@pytest.fixture
def people(user_factory):
    return {name: user_factory(name) for name in ("Ana", "Bo", "Bora", "Cy")}


@pytest.fixture
def room(people):
    room = services.room_join(name="Lobby", person=people["Ana"])
    for name in ("Bo", "Bora"):
        services.room_join(name="Lobby", person=people[name])
    return room  # Cy is not in it


def post(room, sender, text, mentions=()):
    return services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id(), mentions=mentions
    )[0]


def mentioned_people(message) -> list[str]:
    return [m.name for m in message.mentions]


def test_a_mention_is_stored_as_who_was_mentioned(room, people):
    message = post(
        room, people["Ana"], "@Bo and @Bora, lunch?", [people["Bo"].pk, people["Bora"].pk]
    )
    assert mentioned_people(message) == ["Bo", "Bora"]
    assert set(Mention.objects.values_list("person__username", "seq")) == {
        ("bo", message.seq),
        ("bora", message.seq),
    }


@pytest.mark.parametrize(
    ("text", "who", "why"),
    [
        ("@Cy come here", "Cy", "not in the room"),
        ("lunch, anyone?", "Bo", "the text does not name them"),
        ("note to @Ana", "Ana", "the sender themselves"),
    ],
)
def test_a_mention_that_does_not_hold_stays_plain_text(room, people, text, who, why):
    message = post(room, people["Ana"], text, [people[who].pk])
    assert message.mentions == [], why
    assert message.text == text
    assert not Mention.objects.exists()


def test_an_edit_that_adds_a_mention_adds_only_that_one(room, people):
    message = post(room, people["Ana"], "@Bo hi", [people["Bo"].pk])
    edited = services.message_edit(
        room_id=room.pk,
        editor=people["Ana"],
        message_seq=message.seq,
        text="@Bo and @Bora hi",
        mentions=[people["Bo"].pk, people["Bora"].pk],
    )
    assert mentioned_people(edited) == ["Bo", "Bora"]
    edited = services.message_edit(
        room_id=room.pk,
        editor=people["Ana"],
        message_seq=message.seq,
        text="@Bora hi",
        mentions=[people["Bora"].pk],
    )
    assert mentioned_people(edited) == ["Bora"]
    assert list(Mention.objects.values_list("person__username", flat=True)) == ["bora"]


def test_a_deleted_message_mentions_nobody(room, people):
    message = post(room, people["Ana"], "@Bo hi", [people["Bo"].pk])
    tombstone = services.message_delete(
        room_id=room.pk, deleter=people["Ana"], message_seq=message.seq
    )
    assert tombstone.mentions == [] and not Mention.objects.exists()


def test_unread_mentions_are_counted_in_the_room_list_until_read(room, people):
    post(room, people["Ana"], "plain")
    first = post(room, people["Ana"], "@Bo look", [people["Bo"].pk])
    second = post(room, people["Ana"], "@Bo and here", [people["Bo"].pk])
    (summary,) = selectors.room_summaries(person_id=people["Bo"].pk)
    assert (summary.unread, summary.mentioned) == (3, [first.seq, second.seq])
    (bora,) = selectors.room_summaries(person_id=people["Bora"].pk)
    assert bora.mentioned == []
    services.read_mark(person=people["Bo"], room_id=room.pk, seq=first.seq)
    assert selectors.room_summary(person_id=people["Bo"].pk, room_id=room.pk).mentioned == [
        second.seq
    ]


def test_members_are_suggested_by_name_prefix_in_any_case(room, people):
    client = Client()
    client.force_login(people["Ana"])
    url = reverse("chat:room_members", args=[room.pk])
    names = [p["name"] for p in client.get(url, {"prefix": "bo"}).json()["people"]]
    assert names == ["Bo", "Bora"]
    assert client.get(url, {"prefix": "c"}).json()["people"] == []  # Cy is not a member
    assert client.get(url, {"prefix": ""}).json()["people"][0]["name"] == "Bo"  # not Ana
    # NUL is no part of a name (and PostgreSQL would refuse the query).
    assert [p["name"] for p in client.get(url, {"prefix": "bo\x00"}).json()["people"]] == [
        "Bo",
        "Bora",
    ]


def test_members_of_a_private_room_are_not_suggested_to_outsiders(people):
    secret = Room.objects.create(name="Secret", private=True)
    client = Client()
    client.force_login(people["Cy"])
    response = client.get(reverse("chat:room_members", args=[secret.pk]), {"prefix": "b"})
    assert response.status_code == 404
