"""Editing and deleting a message: numbered events of the room, absolute state, refused
with a code when not allowed, and nothing stored for a change that changes nothing."""

from __future__ import annotations

import pytest
from django.test import TestCase

from chat import protocol, selectors, services
from chat.models import Message, Room, RoomEvent
from tests.conftest import new_client_id
from tests.helpers import capture_events, verify_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


def post(room, sender, text="hello", **extra) -> protocol.WireMessage:
    message, _ = services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id(), **extra
    )
    return message


def edit(room, editor, seq, text):
    return services.message_edit(room_id=room.pk, editor=editor, message_seq=seq, text=text)


def delete(room, deleter, seq):
    return services.message_delete(room_id=room.pk, deleter=deleter, message_seq=seq)


def last_seq(room) -> int:
    return Room.objects.get(pk=room.pk).last_seq


def test_an_edit_takes_the_rooms_next_number_and_the_message_keeps_its_own(room, ana):
    post(room, ana, "see you at 5")
    post(room, ana, "bring snacks")
    with verify_action(room.pk) as announced:
        state = edit(room, ana, 1, "see you at 6")
    assert (state.seq, state.version, state.text) == (1, 3, "see you at 6")
    assert state.edited_at is not None
    assert announced.events == [protocol.MessageEdited(seq=3, message=state)]
    assert last_seq(room) == 3
    assert RoomEvent.objects.get(seq=3).kind == "message.edited"


def test_an_edit_to_the_same_text_changes_nothing_and_takes_no_number(room, ana):
    post(room, ana, "unchanged")
    with capture_events() as announced:
        state = edit(room, ana, 1, "unchanged")
    assert (state.version, state.edited_at) == (1, None)
    assert announced.events == []
    assert last_seq(room) == 1


def test_only_its_sender_may_edit_a_message(room, ana, user_factory):
    post(room, ana, "mine")
    with pytest.raises(services.Forbidden):
        edit(room, user_factory("Bo"), 1, "hijacked")
    assert Message.objects.get().text == "mine"
    assert last_seq(room) == 1


@pytest.mark.parametrize("seq", [2, 0, 99])
def test_a_message_the_room_does_not_have_is_not_found(room, ana, seq):
    post(room, ana)
    with pytest.raises(services.NotFound):
        edit(room, ana, seq, "x")
    with pytest.raises(services.NotFound):
        delete(room, ana, seq)


def test_a_message_of_another_room_cannot_be_reached_from_this_one(room, ana, room_factory):
    elsewhere = room_factory("Elsewhere")
    post(elsewhere, ana, "over there")
    with pytest.raises(services.NotFound):
        edit(room, ana, 1, "reached across")
    assert Message.objects.get().text == "over there"


def test_a_deletion_leaves_a_tombstone_without_its_words_or_reactions(room, ana, user_factory):
    post(room, ana, "oops")
    services.reaction_add(room_id=room.pk, person=user_factory("Bo"), message_seq=1, emoji="😮")
    with verify_action(room.pk) as announced:
        tombstone = delete(room, ana, 1)
    assert (tombstone.deleted, tombstone.text, tombstone.reactions) == (True, "", [])
    assert tombstone.version == 3
    assert announced.events == [protocol.MessageDeleted(seq=3, message=tombstone)]
    assert Message.objects.get().text == ""


def test_the_log_never_sends_a_deleted_messages_words_again(room, ana):
    post(room, ana, "my password is hunter2")
    edit(room, ana, 1, "my password is hunter3")
    delete(room, ana, 1)
    frames = selectors.room_events_after(room_id=room.pk, after_seq=0, up_to_seq=3)
    assert [seq for seq, _ in frames] == [1, 2, 3]
    assert not any("hunter" in frame for _, frame in frames)


def test_deleting_a_deleted_message_changes_nothing(room, ana):
    post(room, ana)
    delete(room, ana, 1)
    with capture_events() as announced:
        assert delete(room, ana, 1).deleted
    assert announced.events == []
    assert last_seq(room) == 2


def test_a_deleted_message_cannot_be_edited(room, ana):
    post(room, ana)
    delete(room, ana, 1)
    with pytest.raises(services.Gone):
        edit(room, ana, 1, "back from the dead")


def test_others_may_not_delete_a_message_but_staff_may(room, ana, user_factory):
    post(room, ana, "spam?")
    with pytest.raises(services.Forbidden):
        delete(room, user_factory("Bo"), 1)
    moderator = user_factory("Mod")
    moderator.is_staff = True
    moderator.save()
    assert delete(room, moderator, 1).deleted


def test_a_history_page_shows_each_message_as_it_is_now(room, ana):
    post(room, ana, "first draft")
    edit(room, ana, 1, "final")
    post(room, ana, "gone soon")
    delete(room, ana, 3)
    page = selectors.messages_before(room_id=room.pk)
    assert [(m.seq, m.version, m.text, m.deleted) for m in page.messages] == [
        (1, 2, "final", False),
        (3, 4, "", True),
    ]


def test_staff_delete_from_the_admin_through_the_log_and_cannot_remove_rows(
    room, ana, admin_client
):
    post(room, ana, "spam from the admin's view")
    message = Message.objects.get()
    assert admin_client.get(f"/admin/chat/message/{message.pk}/delete/").status_code == 403
    with capture_events() as announced, TestCase.captureOnCommitCallbacks(execute=True):
        admin_client.post(
            "/admin/chat/message/",
            {"action": "delete_for_everyone", "_selected_action": [message.pk]},
        )
    message.refresh_from_db()
    assert message.deleted and message.text == ""
    assert [type(event) for event in announced.events] == [protocol.MessageDeleted]
