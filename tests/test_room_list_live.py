"""The person's stream, through the real ASGI application: a socket in one room hears of
the person's other rooms (their events as room.activity, each once), of their read
position moving in any tab (read.now), and of a room they join elsewhere (room.joined)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from chat import selectors, services
from chat.models import Room, User
from tests.conftest import new_client_id

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_people_and_rooms():
    ana = services.guest_claim(name="Ana", current_user=AnonymousUser())
    bo = services.guest_claim(name="Bo", current_user=AnonymousUser())
    here = services.room_join(name="Here", person=bo)
    there = services.room_join(name="There", person=bo)
    services.room_join(name="There", person=ana)
    return ana, bo, here, there


@database_sync_to_async
def post(room: Room, sender: User, text: str) -> int:
    return services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id()
    )[0].seq


async def opened(socket_for, room, person):
    socket = await socket_for(room, person)
    assert (await socket.connect())[0]
    return socket


async def test_a_socket_hears_the_persons_other_rooms_and_their_read_positions(socket_for):
    ana, bo, here, there = await make_people_and_rooms()
    bo_here = await opened(socket_for, here, bo)
    bo_there = await opened(socket_for, there, bo)

    seq = await post(there, ana, "over there")
    assert (await bo_there.receive_json_from(timeout=3))["type"] == "message.created"
    activity = await bo_here.receive_json_from(timeout=3)
    assert activity["type"] == "room.activity" and activity["room_id"] == there.pk
    assert activity["event"]["type"] == "message.created"
    assert activity["event"]["message"]["text"] == "over there"

    await bo_there.send_json_to({"type": "read", "seq": seq})
    for socket in (bo_here, bo_there):
        assert await socket.receive_json_from(timeout=3) == {
            "type": "read.now",
            "room_id": there.pk,
            "last_read_seq": seq,
            "unread": 0,
            "last_seq": seq,
        }
    await bo_here.disconnect()
    await bo_there.disconnect()


async def test_a_room_joined_elsewhere_is_announced_and_then_followed(socket_for):
    ana, bo, here, _ = await make_people_and_rooms()
    bo_here = await opened(socket_for, here, bo)
    new_room = await database_sync_to_async(services.room_join)(name="New", person=ana)
    await database_sync_to_async(services.room_join)(name="New", person=bo)
    joined = await bo_here.receive_json_from(timeout=3)
    assert joined["type"] == "room.joined"
    assert (joined["room"]["id"], joined["room"]["name"], joined["room"]["unread"]) == (
        new_room.pk,
        "New",
        0,
    )
    await post(new_room, ana, "welcome")
    activity = await bo_here.receive_json_from(timeout=3)
    assert (activity["room_id"], activity["event"]["message"]["text"]) == (new_room.pk, "welcome")
    await bo_here.disconnect()


async def test_nobody_hears_of_rooms_they_are_not_in(socket_for):
    ana, _, here, there = await make_people_and_rooms()
    outsider = await database_sync_to_async(services.guest_claim)(
        name="Cy", current_user=AnonymousUser()
    )
    await database_sync_to_async(services.room_join)(name="Here", person=outsider)
    cy_here = await opened(socket_for, here, outsider)
    await post(there, ana, "not for Cy")
    assert await cy_here.receive_nothing(timeout=0.3)
    await cy_here.disconnect()


async def test_the_notification_level_is_kept_and_every_tab_hears_of_it(socket_for):
    _, bo, here, there = await make_people_and_rooms()
    bo_here = await opened(socket_for, here, bo)
    bo_there = await opened(socket_for, there, bo)
    await bo_here.send_json_to({"type": "notify.set", "level": "all"})
    for socket in (bo_here, bo_there):
        assert await socket.receive_json_from(timeout=3) == {
            "type": "notify.now",
            "room_id": here.pk,
            "level": "all",
        }
    (summary,) = [
        room
        for room in await database_sync_to_async(selectors.room_summaries)(person_id=bo.pk)
        if room.id == here.pk
    ]
    assert summary.notify == "all"
    await bo_here.send_json_to({"type": "notify.set", "level": "loud"})
    assert (await bo_here.receive_json_from(timeout=3))["code"] == "invalid_field"
    await bo_here.disconnect()
    await bo_there.disconnect()


async def test_only_a_member_chooses_a_rooms_notifications(socket_for):
    _, _, here, _ = await make_people_and_rooms()
    visitor = await database_sync_to_async(services.guest_claim)(
        name="Visitor", current_user=AnonymousUser()
    )
    socket = await opened(socket_for, here, visitor)  # a public room, never joined
    await socket.send_json_to({"type": "notify.set", "level": "all"})
    assert (await socket.receive_json_from(timeout=3))["code"] == "not_found"
    await socket.disconnect()
