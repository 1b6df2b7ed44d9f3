"""What a room's owner does: rename it (a numbered event, live and on resume), make it
private (everyone else's sockets closed) or public again, invite by a link that can be
revoked, give roles, and remove members of a private room (their sockets closed, the room
gone from their lists). Each is refused to members who do not own the room, and a room
they may not know of stays unknown."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client, TestCase
from django.urls import reverse

from chat import protocol, selectors, services
from chat.models import Membership, Room, RoomEvent, User
from tests.conftest import logged_in, new_client_id
from tests.helpers import capture_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def people(account_factory, user_factory) -> dict[str, User]:
    staff = account_factory("Staff")
    staff.is_staff = True
    staff.save()
    return {
        "owner": account_factory("Olga"),
        "member": account_factory("Mia"),
        "outsider": account_factory("Otto"),
        "guest": user_factory("Gus"),
        "staff": staff,
    }


@pytest.fixture
def room(people) -> Room:
    room = services.room_join(name="Team", person=people["owner"])
    services.membership_join(room=room, person=people["member"])
    return room


def settings_post(person: User, room: Room, **data) -> Client:
    client = logged_in(person)
    client.post(reverse("chat:room_settings", args=[room.pk]), data)
    return client


def post(room: Room, sender: User, text: str = "hello") -> int:
    return services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id()
    )[0].seq


# ---- rename ---------------------------------------------------------------------------


def test_a_rename_is_the_rooms_next_numbered_event_and_replays_on_resume(people, room):
    post(room, people["member"])
    with capture_events() as announced, TestCase.captureOnCommitCallbacks(execute=True):
        services.room_rename(person=people["owner"], room_id=room.pk, name="Team Rocket")
    assert announced.events == [protocol.RoomChanged(seq=2, name="Team Rocket", private=False)]
    room.refresh_from_db()
    assert (room.name, room.last_seq) == ("Team Rocket", 2)
    caught_up = selectors.catch_up(
        room_id=room.pk, after_seq=1, epoch=None, page_max=100, resync_max=1000
    )
    assert isinstance(caught_up, protocol.SyncResult)
    assert [protocol.decode_room_event(bytes(e)) for e in caught_up.events] == announced.events
    # Its new name is how people find it from the front page.
    assert services.room_join(name="team rocket", person=people["outsider"]).pk == room.pk


def test_renaming_to_the_same_name_takes_no_number(people, room):
    services.room_rename(person=people["owner"], room_id=room.pk, name="Team")
    assert Room.objects.get(pk=room.pk).last_seq == 0


def test_a_public_room_cannot_take_another_public_rooms_name(people, room):
    services.room_join(name="Lobby", person=people["outsider"])
    with pytest.raises(services.NameTakenByRoom):
        services.room_rename(person=people["owner"], room_id=room.pk, name="LOBBY")
    assert Room.objects.get(pk=room.pk).name == "Team"


@pytest.mark.parametrize(
    ("who", "refusal"),
    [("member", services.Forbidden), ("outsider", services.NotFound), ("staff", None)],
)
def test_only_owners_and_staff_rename_and_outsiders_of_a_private_room_learn_nothing(
    people, room, who, refusal
):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    if refusal is None:
        services.room_rename(person=people[who], room_id=room.pk, name="Renamed")
        assert Room.objects.get(pk=room.pk).name == "Renamed"
    else:
        with pytest.raises(refusal):
            services.room_rename(person=people[who], room_id=room.pk, name="Renamed")
        assert Room.objects.get(pk=room.pk).name == "Team"


# ---- private and public ----------------------------------------------------------------


async def test_making_a_room_private_closes_everyone_elses_sockets_in_it(socket_for, people, room):
    sockets = {}
    for who in ("member", "outsider", "staff"):
        sockets[who] = await socket_for(room, people[who])
        assert (await sockets[who].connect())[0]
    await database_sync_to_async(services.room_privacy_set)(
        person=people["owner"], room_id=room.pk, private=True
    )
    for who in ("member", "staff"):
        changed = await sockets[who].receive_json_from(timeout=3)
        assert changed == {"type": "room.changed", "seq": 1, "name": "Team", "private": True}
    outsider = sockets["outsider"]
    while (frame := await outsider.receive_output(timeout=3))["type"] == "websocket.send":
        pass
    assert frame == {"type": "websocket.close", "code": protocol.CLOSE_FORBIDDEN}
    # And it cannot come back.
    again = await socket_for(room, people["outsider"])
    await again.connect()
    assert await again.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_FORBIDDEN,
    }
    for who in ("member", "staff"):
        await sockets[who].send_json_to({"type": "ping"})
        assert (await sockets[who].receive_json_from(timeout=3))["type"] == "pong"
        await sockets[who].disconnect()


def test_a_private_room_made_public_again_needs_its_name_free(people, room):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    other = services.room_join(name="Team", person=people["outsider"])  # the name is free
    assert other.pk != room.pk
    with pytest.raises(services.NameTakenByRoom):
        services.room_privacy_set(person=people["owner"], room_id=room.pk, private=False)
    assert Room.objects.get(pk=room.pk).private
    services.room_rename(person=people["owner"], room_id=room.pk, name="Team B")
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=False)
    assert not Room.objects.get(pk=room.pk).private


# ---- invitations -----------------------------------------------------------------------


def test_an_invitation_link_lets_someone_in_and_a_new_link_revokes_the_old(people, room):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    old = services.invite_renew(person=people["owner"], room_id=room.pk)
    new = services.invite_renew(person=people["owner"], room_id=room.pk)
    outsider = logged_in(people["outsider"])
    stale = outsider.get(reverse("chat:invite", args=[old]))
    assert stale.status_code == 410 and "Team" not in stale.content.decode()
    page = outsider.get(reverse("chat:invite", args=[new]))
    assert page.status_code == 200 and "Team" in page.content.decode()
    joined = outsider.post(reverse("chat:invite", args=[new]))
    assert joined.url == reverse("chat:room", args=[room.pk])
    assert outsider.get(joined.url).status_code == 200
    assert Membership.objects.get(room=room, person=people["outsider"]).role == "member"


def test_someone_with_no_name_yet_takes_an_invitation_as_a_guest(people, room):
    token = services.invite_renew(person=people["owner"], room_id=room.pk)
    browser = Client()
    refused = browser.post(reverse("chat:invite", args=[token]), {"name": "Mia"})
    assert refused.status_code == 400 and "already taken" in refused.content.decode()
    joined = browser.post(reverse("chat:invite", args=[token]), {"name": "Newcomer"})
    assert joined.url == reverse("chat:room", args=[room.pk])
    assert Membership.objects.filter(room=room, person__display_name="Newcomer").exists()


def test_a_link_turned_off_works_no_more_and_changes_nothing(people, room):
    token = services.invite_renew(person=people["owner"], room_id=room.pk)
    settings_post(people["owner"], room, action="uninvite")
    response = logged_in(people["outsider"]).post(reverse("chat:invite", args=[token]))
    assert response.status_code == 410
    assert not Membership.objects.filter(room=room, person=people["outsider"]).exists()
    assert logged_in(people["outsider"]).get("/invite/" + "x" * 500).status_code == 410


def test_members_who_do_not_own_the_room_cannot_make_links(people, room):
    with pytest.raises(services.Forbidden):
        services.invite_renew(person=people["member"], room_id=room.pk)
    assert Room.objects.get(pk=room.pk).invite_token is None


# ---- roles and removal -----------------------------------------------------------------


def test_an_owner_makes_a_moderator_who_then_deletes_anyones_message(people, room):
    services.membership_join(room=room, person=people["guest"])
    seq = post(room, people["guest"], "spam")
    with pytest.raises(services.Forbidden):
        services.message_delete(room_id=room.pk, deleter=people["member"], message_seq=seq)
    settings_post(
        people["owner"], room, action="role", member=people["member"].pk, role="moderator"
    )
    assert services.message_delete(
        room_id=room.pk, deleter=people["member"], message_seq=seq
    ).deleted


def test_a_room_keeps_an_owner(people, room):
    with pytest.raises(services.Refused, match="needs an owner"):
        services.member_role_set(
            person=people["owner"], room_id=room.pk, member_id=people["owner"].pk, role="member"
        )
    with pytest.raises(services.Refused):
        services.member_role_set(
            person=people["owner"], room_id=room.pk, member_id=people["member"].pk, role="boss"
        )
    assert Membership.objects.get(room=room, person=people["owner"]).role == "owner"


async def test_a_removed_member_is_told_their_sockets_close_and_the_room_leaves_their_list(
    socket_for, people, room
):
    elsewhere = await database_sync_to_async(services.room_join)(
        name="Elsewhere", person=people["member"]
    )
    await database_sync_to_async(services.room_privacy_set)(
        person=people["owner"], room_id=room.pk, private=True
    )
    in_room = await socket_for(room, people["member"])
    other_tab = await socket_for(elsewhere, people["member"])
    for socket in (in_room, other_tab):
        assert (await socket.connect())[0]
    await database_sync_to_async(services.member_remove)(
        person=people["owner"], room_id=room.pk, member_id=people["member"].pk
    )
    left = {"type": "room.left", "room_id": room.pk, "reason": "removed"}
    assert await in_room.receive_json_from(timeout=3) == left
    assert await in_room.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": protocol.CLOSE_FORBIDDEN,
    }
    assert await other_tab.receive_json_from(timeout=3) == left
    # The other tab follows the room no more: its messages are not shown there.
    await database_sync_to_async(post)(room, people["owner"], "after you left")
    assert await other_tab.receive_nothing(timeout=0.3)
    page = await database_sync_to_async(lambda: logged_in(people["member"]).get(f"/r/{room.pk}/"))()
    assert page.status_code == 404
    await other_tab.disconnect()


def test_a_removed_member_still_connected_cannot_post_and_takes_no_number(people, room):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    Membership.objects.filter(room=room, person=people["member"]).delete()  # hint lost
    before = Room.objects.get(pk=room.pk).last_seq
    results = services.messages_post_many(
        [
            services.Post(room.pk, people["member"], "let me in", new_client_id()),
            services.Post(room.pk, people["owner"], "still here", new_client_id()),
        ]
    )
    assert isinstance(results[0], services.NotAMember)
    assert not isinstance(results[1], Exception) and results[1][0].seq == before + 1
    assert Room.objects.get(pk=room.pk).last_seq == before + 1  # no gap
    with pytest.raises(services.NotAMember):
        services.reaction_add(
            room_id=room.pk, person=people["member"], message_seq=before + 1, emoji="👍"
        )


def test_owners_are_not_removed_and_public_rooms_have_no_removals(people, room):
    with pytest.raises(services.Refused, match="private"):
        services.member_remove(
            person=people["owner"], room_id=room.pk, member_id=people["member"].pk
        )
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    services.member_role_set(
        person=people["owner"], room_id=room.pk, member_id=people["member"].pk, role="owner"
    )
    with pytest.raises(services.Refused, match="owner"):
        services.member_remove(
            person=people["owner"], room_id=room.pk, member_id=people["member"].pk
        )
    assert Membership.objects.filter(room=room, person=people["member"]).exists()


# ---- the settings page -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner", "member", "outsider", "staff", "logged-out"])
def test_the_settings_page_shows_its_controls_only_to_owners_and_staff(people, room, who):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    client = Client() if who == "logged-out" else logged_in(people[who])
    response = client.get(reverse("chat:room_settings", args=[room.pk]))
    if who == "logged-out":
        assert response.url.startswith(reverse("accounts:login"))
    elif who == "outsider":
        assert response.status_code == 404 and "Team" not in response.content.decode()
    else:
        page = response.content.decode()
        assert response.status_code == 200 and "Mia" in page and "Olga" in page
        assert ("Make public" in page) == (who in ("owner", "staff"))


def test_a_member_posting_owner_actions_changes_nothing(people, room):
    client = settings_post(people["member"], room, action="private")
    assert not Room.objects.get(pk=room.pk).private
    page = client.get(reverse("chat:room_settings", args=[room.pk])).content.decode()
    assert "Only the room&#x27;s owners can do that." in page
    bad = logged_in(people["owner"]).post(
        reverse("chat:room_settings", args=[room.pk]), {"action": "role", "member": "x"}
    )
    assert bad.status_code == 400
    assert not RoomEvent.objects.filter(room=room).exists()


# ---- staff, from the admin -------------------------------------------------------------


def admin_change(admin_client, room: Room, **fields):
    memberships = list(Membership.objects.filter(room=room).order_by("pk"))
    data = {
        "name": room.name,
        "private": "on" if room.private else "",
        "memberships-TOTAL_FORMS": str(len(memberships)),
        "memberships-INITIAL_FORMS": str(len(memberships)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
    }
    for n, membership in enumerate(memberships):
        data.update(
            {
                f"memberships-{n}-id": str(membership.pk),
                f"memberships-{n}-room": str(room.pk),
                f"memberships-{n}-person": str(membership.person_id),
                f"memberships-{n}-role": membership.role,
            }
        )
    data.update(fields)
    return admin_client.post(reverse("admin:chat_room_change", args=[room.pk]), data)


def test_staff_rename_and_make_private_from_the_admin_through_the_log(admin_client, people, room):
    with capture_events() as announced, TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_change(admin_client, room, name="Renamed", private="on")
    assert response.status_code == 302
    assert announced.events == [
        protocol.RoomChanged(seq=1, name="Renamed", private=False),
        protocol.RoomChanged(seq=2, name="Renamed", private=True),
    ]


def test_the_admin_will_not_make_public_a_room_whose_name_a_public_room_has(
    admin_client, people, room
):
    services.room_privacy_set(person=people["owner"], room_id=room.pk, private=True)
    services.room_join(name="Team", person=people["outsider"])
    response = admin_change(admin_client, room, private="")
    assert response.status_code == 200 and "A public room already has that name" in (
        response.content.decode()
    )
    assert Room.objects.get(pk=room.pk).private


def test_a_member_removed_in_the_admin_is_told_as_one_removed_by_an_owner(
    admin_client, people, room, monkeypatch
):
    hinted = []
    monkeypatch.setattr(
        "chat.realtime.notify_person",
        lambda person_id, frame, **where: hinted.append((person_id, frame, where)),
    )
    member = Membership.objects.get(room=room, person=people["member"])
    index = list(Membership.objects.filter(room=room).order_by("pk")).index(member)
    with TestCase.captureOnCommitCallbacks(execute=True):
        admin_change(admin_client, room, **{f"memberships-{index}-DELETE": "on"})
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert [(person_id, where) for person_id, _, where in hinted] == [
        (people["member"].pk, {"leave": room.pk})
    ]
