"""Direct conversations: a private room of two to eight people with no name, called by the
others' names; the same people always find the same one; anyone else cannot see, open,
read or connect to it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import Client
from django.urls import reverse

from chat import protocol, selectors, services
from chat.models import Membership, Room, User
from tests.conftest import logged_in, new_client_id

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def ana(account_factory) -> User:
    return account_factory("Ana")


@pytest.fixture
def bo(user_factory) -> User:
    return user_factory("Bo")


@pytest.fixture
def cy(account_factory) -> User:
    return account_factory("Cy")


def test_a_direct_conversation_is_private_nameless_and_called_by_the_others_names(ana, bo, cy):
    room = services.direct_open(person=ana, names=["bo", "Cy"])
    assert (room.private, room.direct, room.name) == (True, True, "")
    assert set(
        Membership.objects.filter(room=room).values_list("person__display_name", flat=True)
    ) == {
        "Ana",
        "Bo",
        "Cy",
    }
    titles = {
        person.name: selectors.room_title(room, viewer_id=person.pk) for person in (ana, bo, cy)
    }
    assert titles == {"Ana": "Bo, Cy", "Bo": "Ana, Cy", "Cy": "Ana, Bo"}
    assert [r.name for r in selectors.room_summaries(person_id=bo.pk)] == ["Ana, Cy"]
    page = logged_in(bo).get(reverse("chat:room", args=[room.pk])).content.decode()
    assert "<title>Ana, Cy — Chat</title>" in page


def test_the_same_people_find_the_same_conversation_whoever_starts_it(ana, bo, cy):
    first = services.direct_open(person=ana, names=["Bo"])
    assert services.direct_open(person=bo, names=["ANA", " ana "]).pk == first.pk
    assert services.direct_open(person=ana, names=["Bo", "Cy"]).pk != first.pk
    assert Room.objects.filter(direct=True).count() == 2


@pytest.mark.parametrize(
    ("names", "refusal", "says"),
    [
        ([], services.Refused, "at least one"),
        (["Ana"], services.Refused, "at least one"),
        (["Nobody", "Bo"], services.NotFound, "Nobody"),
        ([f"P{n}" for n in range(8)], services.Refused, "at most 8"),
    ],
)
def test_a_conversation_with_nobody_else_someone_unknown_or_too_many_is_refused(
    ana, bo, user_factory, names, refusal, says
):
    for n in range(8):
        user_factory(f"P{n}")
    with pytest.raises(refusal, match=says):
        services.direct_open(person=ana, names=names)
    assert not Room.objects.filter(direct=True).exists()


async def test_the_third_person_cannot_see_open_read_or_connect_to_it(ana, bo, cy, socket_for):
    from channels.db import database_sync_to_async

    @database_sync_to_async
    def start():
        room = services.direct_open(person=ana, names=["Bo"])
        services.message_post(
            room_id=room.pk, sender=ana, text="just between us", client_id=new_client_id()
        )
        third = logged_in(cy)
        return room, [
            third.get("/"),
            third.get(reverse("chat:room", args=[room.pk])),
            third.get(reverse("chat:room_messages", args=[room.pk])),
            third.get(reverse("chat:room_members", args=[room.pk])),
            third.get(reverse("chat:room_settings", args=[room.pk])),
        ]

    room, (front, page, history, members, settings_page) = await start()
    assert f"/r/{room.pk}/" not in front.content.decode()
    for response in (page, history, members, settings_page):
        assert response.status_code == 404
        assert "just between us" not in response.content.decode()
    socket = await socket_for(room, cy)
    await socket.connect()
    assert await socket.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_FORBIDDEN,
    }
    member = await socket_for(room, bo)
    assert (await member.connect())[0]
    await member.send_json_to({"type": "sync", "after_seq": 0})
    synced = await member.receive_json_from(timeout=3)
    assert synced["events"][0]["message"]["text"] == "just between us"
    await member.disconnect()


def test_a_direct_conversation_keeps_its_people_and_its_privacy(ana, bo):
    room = services.direct_open(person=ana, names=["Bo"])
    for refused in (
        lambda: services.room_rename(person=ana, room_id=room.pk, name="Ours"),
        lambda: services.room_privacy_set(person=ana, room_id=room.pk, private=False),
        lambda: services.invite_renew(person=ana, room_id=room.pk),
        lambda: services.member_remove(person=ana, room_id=room.pk, member_id=bo.pk),
    ):
        with pytest.raises(services.Refused):
            refused()
    room.refresh_from_db()
    assert (room.name, room.private, room.invite_token) == ("", True, None)


def test_the_front_page_starts_one_and_says_what_went_wrong(ana, bo):
    client = logged_in(ana)
    assert "Direct conversation" in client.get("/").content.decode()
    started = client.post(reverse("chat:direct"), {"people": "Bo"})
    room = Room.objects.get(direct=True)
    assert started.url == reverse("chat:room", args=[room.pk])
    wrong = client.post(reverse("chat:direct"), {"people": "Bo, Zed"})
    assert wrong.status_code == 400 and "Nobody here is called Zed." in wrong.content.decode()
    logged_out = Client().post(reverse("chat:direct"), {"people": "Bo"})
    assert logged_out.url.startswith(reverse("accounts:login"))


def test_a_guest_can_be_written_to_and_keeps_the_conversation_when_renamed(ana):
    guest = services.guest_claim(name="Wanderer", current_user=AnonymousUser())
    room = services.direct_open(person=ana, names=["Wanderer"])
    services.guest_claim(name="Settled", current_user=guest)
    assert selectors.room_title(room, viewer_id=ana.pk) == "Settled"


def test_everyone_in_a_new_conversation_is_told_of_it_by_the_name_they_call_it(
    ana, bo, cy, monkeypatch
):
    told = {}
    monkeypatch.setattr(
        "chat.realtime.notify_person",
        lambda person_id, frame, **where: told.setdefault(person_id, json.loads(frame)),
    )
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        room = services.direct_open(person=ana, names=["Bo", "Cy"])
    assert {pid: (f["type"], f["room"]["id"], f["room"]["name"]) for pid, f in told.items()} == {
        ana.pk: ("room.joined", room.pk, "Bo, Cy"),
        bo.pk: ("room.joined", room.pk, "Ana, Cy"),
        cy.pk: ("room.joined", room.pk, "Ana, Bo"),
    }
