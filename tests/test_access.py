"""Who may see a room, asked in one place (chat.access) by every page, socket and read path:
a public room is open to anyone with a name; a private room only to its members and to
staff, and to everyone else it does not exist."""

from __future__ import annotations

import pytest
from django.urls import reverse

from chat import access, protocol, services
from chat.models import Membership, Room, User
from tests.conftest import logged_in, new_client_id

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "Secret plans"


@pytest.fixture
def people(user_factory, account_factory) -> dict[str, User | None]:
    staff = account_factory("Staff")
    staff.is_staff = True
    staff.save()
    return {
        "owner": account_factory("Owner"),
        "member": account_factory("Member"),
        "non-member": account_factory("Outsider"),
        "guest": user_factory("Guest"),
        "logged-out": None,
        "staff": staff,
    }


@pytest.fixture
def private_room(people) -> Room:
    room = Room.objects.create(name=SECRET, private=True)
    Membership.objects.create(room=room, person=people["owner"], role=Membership.OWNER)
    Membership.objects.create(room=room, person=people["member"])
    services.message_post(
        room_id=room.pk, sender=people["owner"], text="the plan", client_id=new_client_id()
    )
    return room


@pytest.fixture
def public_room(people) -> Room:
    return services.room_join(name="Lobby", person=people["owner"])


ALLOWED_IN_PRIVATE = {"owner", "member", "staff"}
EVERYONE = ["owner", "member", "non-member", "guest", "logged-out", "staff"]


@pytest.mark.parametrize("who", EVERYONE)
def test_the_room_page_of_a_private_room_opens_only_for_members_and_staff(
    people, private_room, who
):
    response = logged_in(people[who]).get(reverse("chat:room", args=[private_room.pk]))
    if who in ALLOWED_IN_PRIVATE:
        assert response.status_code == 200
        assert "the plan" in response.content.decode()
    elif who == "logged-out":
        assert response.url.startswith(reverse("accounts:login"))
        assert SECRET not in response.url
    else:
        assert response.status_code == 404
        assert SECRET not in response.content.decode()


@pytest.mark.parametrize("who", EVERYONE)
def test_the_history_of_a_private_room_is_read_only_by_members_and_staff(people, private_room, who):
    response = logged_in(people[who]).get(reverse("chat:room_messages", args=[private_room.pk]))
    if who in ALLOWED_IN_PRIVATE:
        assert response.status_code == 200 and "the plan" in response.content.decode()
    else:
        assert response.status_code in (403, 404)
        assert "the plan" not in response.content.decode()


@pytest.mark.parametrize("who", EVERYONE)
def test_the_front_page_lists_a_private_room_only_to_members_and_staff(people, private_room, who):
    page = logged_in(people[who]).get("/").content.decode()
    assert (SECRET in page) == (who in ALLOWED_IN_PRIVATE)


@pytest.mark.parametrize("who", EVERYONE)
def test_a_public_room_opens_for_anyone_with_a_name(people, public_room, who):
    response = logged_in(people[who]).get(reverse("chat:room", args=[public_room.pk]))
    if who == "logged-out":
        assert response.url == "/?room=Lobby"
    else:
        assert response.status_code == 200
        assert Membership.objects.filter(room=public_room, person=people[who]).exists()


def test_joining_by_the_name_of_a_private_room_makes_a_new_public_room(people, private_room):
    client = logged_in(people["non-member"])
    response = client.post("/", {"name": "Outsider", "room": SECRET})
    room = Room.objects.get(pk=int(response.url.split("/")[2]))
    assert room.pk != private_room.pk and not room.private
    assert not Membership.objects.filter(room=private_room, person=people["non-member"]).exists()


@pytest.mark.parametrize("who", EVERYONE)
async def test_a_socket_to_a_private_room_is_refused_with_4403_outside_its_members(
    socket_for, people, private_room, who
):
    socket = await socket_for(private_room, people[who])
    connected, _ = await socket.connect()
    assert connected
    if who in ALLOWED_IN_PRIVATE:
        await socket.send_json_to({"type": "ping"})
        assert (await socket.receive_json_from(timeout=3))["type"] == "pong"
    else:
        code = protocol.CLOSE_NOT_AUTHENTICATED if who == "logged-out" else protocol.CLOSE_FORBIDDEN
        assert await socket.receive_output(timeout=3) == {"type": "websocket.close", "code": code}
    await socket.disconnect()


async def test_a_member_refused_nothing_while_an_outsider_on_the_same_worker_is_refused(
    socket_for, people, private_room
):
    """The process knows the room from a member's socket; an outsider still asks."""
    member = await socket_for(private_room, people["member"])
    assert (await member.connect())[0]
    outsider = await socket_for(private_room, people["non-member"])
    await outsider.connect()
    assert await outsider.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_FORBIDDEN,
    }
    await member.disconnect()


@pytest.mark.parametrize("who", ["owner", "staff"])
def test_owners_and_staff_delete_anyones_message_and_members_only_their_own(
    people, private_room, who
):
    seq = services.message_post(
        room_id=private_room.pk, sender=people["member"], text="oops", client_id=new_client_id()
    )[0].seq
    other = services.message_post(
        room_id=private_room.pk, sender=people["owner"], text="mine", client_id=new_client_id()
    )[0].seq
    with pytest.raises(services.Forbidden):
        services.message_delete(
            room_id=private_room.pk, deleter=people["member"], message_seq=other
        )
    deleted = services.message_delete(room_id=private_room.pk, deleter=people[who], message_seq=seq)
    assert deleted.deleted


def test_a_moderator_deletes_anyones_message(people, public_room):
    services.room_join(name="Lobby", person=people["member"])
    services.room_join(name="Lobby", person=people["guest"])
    Membership.objects.filter(room=public_room, person=people["member"]).update(
        role=Membership.MODERATOR
    )
    seq = services.message_post(
        room_id=public_room.pk, sender=people["guest"], text="spam", client_id=new_client_id()
    )[0].seq
    assert services.message_delete(
        room_id=public_room.pk, deleter=people["member"], message_seq=seq
    ).deleted


def test_the_rule_itself():
    class Someone:
        is_authenticated = True
        is_staff = False

    class Staff(Someone):
        is_staff = True

    class Nobody:
        is_authenticated = False

    assert access.may_enter(Someone(), private=False, member=False)
    assert not access.may_enter(Someone(), private=True, member=False)
    assert access.may_enter(Someone(), private=True, member=True)
    assert access.may_enter(Staff(), private=True, member=False)
    assert not access.may_enter(Nobody(), private=False, member=True)
