"""Pages: the front page makes identities and rooms; the room page renders history safely."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from chat import services
from chat.models import Room, User

pytestmark = pytest.mark.django_db


def join(client: Client, name: str, room: str):
    return client.post(reverse("chat:index"), {"name": name, "room": room})


def test_the_front_page_has_a_labelled_name_and_room_form(client):
    html = client.get("/").content.decode()
    assert '<label for="id_name">Name</label>' in html
    assert '<label for="id_room">Room</label>' in html
    assert ">Join</button>" in html


def test_joining_makes_the_room_logs_in_a_guest_and_opens_the_room(client):
    response = join(client, "Ana", "Lobby")
    room = Room.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("chat:room", args=[room.pk])
    user = User.objects.get()
    assert user.name == "Ana" and not user.has_usable_password()
    assert client.get(response.url).context["user"] == user


def test_joining_an_existing_room_by_another_case_opens_it(client):
    existing = Room.objects.create(name="Lobby")
    assert join(client, "Ana", "  LOBBY ").url == reverse("chat:room", args=[existing.pk])
    assert Room.objects.count() == 1


def test_names_and_rooms_are_trimmed_and_kept_as_typed(client):
    join(client, "  Łukasz 🚀  ", "  日本語 room ")
    assert User.objects.get().display_name == "Łukasz 🚀"
    assert Room.objects.get().name == "日本語 room"


def test_a_name_someone_else_holds_is_refused_with_a_message(client, user_factory):
    user_factory("Ana")
    response = join(client, "ana", "Lobby")
    assert response.status_code == 200
    assert "is already taken by someone else" in response.content.decode()
    assert Room.objects.count() == 0
    assert "_auth_user_id" not in client.session


def test_the_same_browser_coming_back_keeps_its_name(client):
    join(client, "Ana", "Lobby")
    assert 'value="Ana"' in client.get("/").content.decode()
    response = join(client, "Ana", "Other room")
    assert response.status_code == 302
    assert User.objects.count() == 1


@pytest.mark.parametrize(
    ("name", "room"),
    [
        ("", "Lobby"),
        ("Ana", ""),
        ("   ", "Lobby"),
        ("x" * 41, "Lobby"),
        ("Ana", "r" * 81),
        ("A\x07na", "Lobby"),
    ],
)
def test_invalid_names_and_rooms_are_refused_with_an_error(client, name, room):
    response = join(client, name, room)
    assert response.status_code == 200
    assert response.context["form"].errors
    assert Room.objects.count() == 0 and User.objects.count() == 0


def test_each_fields_error_is_the_text_its_aria_describedby_names(client):
    page = join(client, "", "").content.decode()
    for field in ("name", "room"):
        described_by = re.search(rf'<input[^>]*id="id_{field}"[^>]*>', page).group(0)
        error_id = re.search(r'aria-describedby="([^"]+)"', described_by).group(1)
        assert re.search(rf'<div class="field__errors" role="alert" id="{error_id}">', page)


def test_the_front_page_lists_rooms_most_recently_active_first_with_links(client, user_factory):
    quiet, busy = Room.objects.create(name="quiet"), Room.objects.create(name="busy")
    services.messages_import(room_id=quiet.pk, sender=user_factory(), texts=["a"])
    services.messages_import(room_id=busy.pk, sender=user_factory(), texts=["b"])
    html = client.get("/").content.decode()
    assert html.index(">busy</a>") < html.index(">quiet</a>")
    assert f'href="/r/{busy.pk}/"' in html


def test_markup_in_room_names_is_escaped_on_the_front_page(client):
    Room.objects.create(name="<script>alert(1)</script>")
    html = client.get("/").content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.fixture
def busy_room(user_factory):
    room = Room.objects.create(name="Busy")
    services.messages_import(
        room_id=room.pk, sender=user_factory("Other"), texts=[f"message {n}" for n in range(1, 101)]
    )
    return room


def room_config(response) -> dict:
    return json.loads(
        response.content.decode()
        .split('id="chat-config" type="application/json">')[1]
        .split("</script>")[0]
    )


def test_the_room_page_hands_its_script_the_latest_fifty_messages_oldest_first(
    client_for, user_factory, busy_room
):
    page = client_for(user_factory()).get(reverse("chat:room", args=[busy_room.pk]))
    messages = room_config(page)["messages"]
    assert [message["seq"] for message in messages] == list(range(51, 101))
    assert messages[0]["text"] == "message 51"
    assert 'role="log"' in page.content.decode()


def test_the_room_page_hands_its_script_what_it_needs_as_json(client_for, user_factory, busy_room):
    me = user_factory("Me")
    config = room_config(client_for(me).get(reverse("chat:room", args=[busy_room.pk])))
    assert config["room"] == {
        "id": busy_room.pk,
        "name": "Busy",
        "epoch": busy_room.epoch,
        "private": False,
        "direct": False,
    }
    assert config["me"] == {"id": me.pk, "name": "Me", "moderates": False}
    assert (config["firstSeq"], config["lastSeq"], config["hasOlder"]) == (51, 100, True)
    assert config["lastReadSeq"] == 100  # a newcomer: nothing there is new to them
    assert config["socketPath"] == f"/ws/rooms/{busy_room.pk}/"


def test_the_page_resumes_from_the_rooms_last_number_not_its_last_messages(
    client_for, user_factory, busy_room
):
    me = user_factory("Me")
    services.message_post(room_id=busy_room.pk, sender=me, text="typo", client_id="c1")
    services.message_edit(room_id=busy_room.pk, editor=me, message_seq=101, text="fixed")
    config = room_config(client_for(me).get(reverse("chat:room", args=[busy_room.pk])))
    assert config["lastSeq"] == 102  # the edit took a number of its own
    assert config["messages"][-1] | {"sent_at": None, "edited_at": None} == {
        "seq": 101,
        "version": 102,
        "text": "fixed",
        "html": "<p>fixed</p>\n",
        "sender": {"id": me.pk, "name": "Me"},
        "sent_at": None,
        "edited_at": None,
        "client_id": "c1",
    }


def test_markup_in_messages_and_names_is_rendered_as_text(client_for, user_factory):
    sender = user_factory("<b>Eve</b>")
    room = Room.objects.create(name="<i>lab</i>")
    payload = '<img src=x onerror="alert(1)">'
    services.messages_import(room_id=room.pk, sender=sender, texts=[payload])
    response = client_for(user_factory()).get(reverse("chat:room", args=[room.pk]))
    html = response.content.decode()
    assert "<img src=x" not in html and "<b>Eve</b>" not in html and "<i>lab</i>" not in html
    assert "&lt;i&gt;lab&lt;/i&gt;" in html
    # The script gets the words exactly, and puts them in the page as text.
    assert room_config(response)["messages"][0]["text"] == payload
    assert room_config(response)["messages"][0]["sender"]["name"] == "<b>Eve</b>"


def test_the_room_page_has_no_inline_script_or_style(client_for, user_factory, busy_room):
    html = (
        client_for(user_factory()).get(reverse("chat:room", args=[busy_room.pk])).content.decode()
    )
    assert "style=" not in html
    scripts = html.split("<script")[1:]
    assert all('type="application/json"' in s or 'src="' in s.split(">")[0] for s in scripts)


def test_a_visitor_without_a_name_is_sent_to_the_front_page_with_the_room_filled_in(
    client, busy_room
):
    response = client.get(reverse("chat:room", args=[busy_room.pk]))
    assert response.status_code == 302
    assert response.url == "/?room=Busy"
    assert 'value="Busy"' in client.get(response.url).content.decode()


@pytest.mark.parametrize("path", ["/r/999999/", "/r/99999999999999999999999/", "/r/0/messages"])
def test_an_unknown_room_is_not_found(client_for, user_factory, path):
    assert client_for(user_factory()).get(path).status_code == 404


def test_older_history_comes_in_pages_of_fifty_as_json(client_for, user_factory, busy_room):
    client = client_for(user_factory())
    url = reverse("chat:room_messages", args=[busy_room.pk])
    page = client.get(url, {"before": 51}).json()
    assert [m["seq"] for m in page["messages"]] == list(range(1, 51))
    assert page["has_more"] is False
    assert page["messages"][0]["sender"]["name"] == "Other"


@pytest.mark.parametrize("before", ["abc", "1.5", "", "-1", "99999999999999999999999"])
def test_the_history_endpoint_refuses_a_bad_cursor(client_for, user_factory, busy_room, before):
    url = reverse("chat:room_messages", args=[busy_room.pk])
    response = client_for(user_factory()).get(url, {"before": before})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_field"


def test_the_history_endpoint_needs_a_session(client, busy_room):
    response = client.get(reverse("chat:room_messages", args=[busy_room.pk]))
    assert response.status_code == 403


def test_admin_lists_searches_and_filters_rooms_and_messages(admin_client, busy_room, user_factory):
    Room.objects.create(name="Elsewhere")
    rooms = admin_client.get("/admin/chat/room/", {"q": "Bus"}).content.decode()
    assert "Busy" in rooms and "Elsewhere" not in rooms
    by_sender = admin_client.get("/admin/chat/message/", {"q": "Other"})
    assert by_sender.status_code == 200
    assert by_sender.context["cl"].result_count == 100
    by_room = admin_client.get("/admin/chat/message/", {"room__id__exact": busy_room.pk})
    assert by_room.context["cl"].result_count == 100
    assert admin_client.get("/admin/chat/message/", {"q": "Busy"}).context["cl"].result_count == 100


def test_an_admin_account_holds_its_name_against_guests_and_logs_in_in_any_case(client):
    User.objects.create_superuser("Admin", password="correct horse")
    response = join(client, "admin", "Lobby")
    assert "is already taken by someone else" in response.content.decode()
    assert client.login(username="Admin", password="correct horse")
    assert client.get("/admin/").status_code == 200


def test_every_page_carries_a_strict_content_security_policy(
    client_for, user_factory, busy_room, admin_client
):
    reader = client_for(user_factory())
    responses = [
        Client().get("/"),
        reader.get(f"/r/{busy_room.pk}/"),
        reader.get(f"/r/{busy_room.pk}/messages"),
        reader.get("/r/999999/"),  # an error page too
        admin_client.get("/admin/"),
    ]
    for response in responses:
        policy = dict(
            directive.strip().split(" ", 1)
            for directive in response["Content-Security-Policy"].split(";")
        )
        assert policy == {
            "default-src": "'none'",
            "script-src": "'self'",
            "style-src": "'self'",
            "img-src": "'self'",
            "font-src": "'self'",
            "connect-src": "'self'",
            "manifest-src": "'self'",
            "worker-src": "'self'",
            "object-src": "'none'",
            "base-uri": "'none'",
            "frame-ancestors": "'none'",
            "form-action": "'self'",
        }, response.request["PATH_INFO"]
