"""Replies: a message may answer another of the same room; it carries the original's
sender and first line as the original is now."""

from __future__ import annotations

import pytest

from chat import selectors, services
from chat.models import Message
from tests.conftest import new_client_id
from tests.helpers import verify_action

pytestmark = pytest.mark.django_db


@pytest.fixture
def room(room_factory):
    return room_factory("General")


def post(room, sender, text, reply_to=None):
    message, _ = services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id(), reply_to=reply_to
    )
    return message


def test_a_reply_shows_its_originals_sender_and_first_line(room, user_factory):
    ana, bo = user_factory("Ana"), user_factory("Bo")
    post(room, ana, "Agenda:\n1. budget\n2. hiring")
    with verify_action(room.pk) as announced:
        reply = post(room, bo, "budget first", reply_to=1)
    assert [event.message for event in announced.events] == [reply]
    assert reply.reply_to.seq == 1
    assert (reply.reply_to.sender.name, reply.reply_to.excerpt) == ("Ana", "Agenda:")
    assert not reply.reply_to.deleted


def test_a_long_first_line_is_shortened_in_the_quote(room, user_factory):
    ana = user_factory("Ana")
    post(room, ana, "x" * 300)
    assert len(post(room, ana, "re", reply_to=1).reply_to.excerpt) == 100


def test_a_reply_to_a_message_the_room_does_not_have_is_refused_and_nothing_stored(
    room, room_factory, user_factory
):
    ana = user_factory("Ana")
    post(room_factory("Elsewhere"), ana, "in another room")  # number 1 there, not here
    with pytest.raises(services.NotFound):
        post(room, ana, "re: that", reply_to=1)
    assert Message.objects.filter(room=room).count() == 0
    assert post(room, ana, "plain").seq == 1  # no number was used up


def test_a_reply_to_a_deleted_message_says_so_and_quotes_nothing(room, user_factory):
    ana, bo = user_factory("Ana"), user_factory("Bo")
    post(room, ana, "secret plan")
    post(room, bo, "what plan?", reply_to=1)
    services.message_delete(room_id=room.pk, deleter=ana, message_seq=1)
    reply = selectors.messages_before(room_id=room.pk).messages[-1]
    assert (reply.reply_to.deleted, reply.reply_to.excerpt) == (True, "")


@pytest.mark.django_db(transaction=True)
def test_an_original_deleted_while_a_reply_waits_for_the_lock_is_quoted_as_deleted(
    room, user_factory
):
    from unittest import mock

    from chat.services import messages as posting

    ana, bo = user_factory("Ana"), user_factory("Bo")
    post(room, ana, "secret plan")
    take_numbers = posting._take_numbers

    def deleted_meanwhile(counts, now):
        # As if Ana's deletion committed while Bo's post waited for the room's lock.
        from chat.models import Message

        Message.objects.filter(room=room, seq=1).update(text="", deleted_at=now)
        return take_numbers(counts, now)

    with mock.patch.object(posting, "_take_numbers", deleted_meanwhile):
        reply = post(room, bo, "what plan?", reply_to=1)
    assert (reply.reply_to.deleted, reply.reply_to.excerpt) == (True, "")


def test_a_reply_quotes_the_original_as_edited(room, user_factory):
    ana, bo = user_factory("Ana"), user_factory("Bo")
    post(room, ana, "meet at 5")
    post(room, bo, "ok", reply_to=1)
    services.message_edit(room_id=room.pk, editor=ana, message_seq=1, text="meet at 6")
    assert selectors.messages_before(room_id=room.pk).messages[-1].reply_to.excerpt == "meet at 6"
