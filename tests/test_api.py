"""The HTTP API for bots: a personal access token (or the session) acts as its person, in
the rooms the one access rule lets them see, with the socket's shapes, limits and error
codes; posting is idempotent by client_id, and the long poll on a room's log wakes on the
next event. (tests/test_api_schema.py runs schemathesis against its OpenAPI document.)"""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from chat import services
from chat.models import AccessToken, Message
from chat.services import tokens
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def room(room_factory):
    return room_factory("General")


@pytest.fixture
def ana(user_factory):
    return user_factory("Ana")


@pytest.fixture
def bo(user_factory):
    return user_factory("Bo")


@pytest.fixture
def secret_room(room_factory, ana):
    room = room_factory("Secret")
    room.private = True
    room.save()
    services.membership_join(room=room, person=ana)
    return room


def bearer(person) -> dict:
    _, secret = tokens.token_create(person=person, name="test bot")
    return {"Authorization": f"Bearer {secret}"}


class Bot:
    """An API client holding one person's token."""

    def __init__(self, headers: dict):
        self.client = AsyncClient()
        self.headers = headers  # per request: AsyncClient(headers=...) does not send them

    async def get(self, path: str, **query):
        response = await self.client.get(f"/api/v1{path}", query, headers=self.headers)
        return response.status_code, response.json()

    async def send(self, method: str, path: str, body: object | None = None):
        response = await self.raw(method, path, json.dumps(body) if body is not None else "")
        return response.status_code, response.json()

    async def raw(self, method: str, path: str, data: str):
        call = getattr(self.client, method)
        return await call(
            f"/api/v1{path}", data=data, content_type="application/json", headers=self.headers
        )


@pytest.fixture
def bot_for():
    async def make(person) -> Bot:
        return Bot(await database_sync_to_async(bearer)(person))

    return make


async def test_a_bot_posts_as_its_person_and_a_resend_is_the_same_message(bot_for, room, ana):
    bot = await bot_for(ana)
    body = {"client_id": "deploy-1", "text": "Deployed **v2**"}
    status, message = await bot.send("post", f"/rooms/{room.pk}/messages", body)
    assert status == 201
    assert (message["seq"], message["sender"]["name"]) == (1, "Ana")
    assert message["html"] == "<p>Deployed <strong>v2</strong></p>\n"
    status, again = await bot.send("post", f"/rooms/{room.pk}/messages", body)
    assert (status, again["seq"]) == (200, 1)
    assert await database_sync_to_async(Message.objects.count)() == 1
    # Posting made the public room one of Ana's rooms.
    status, mine = await bot.get("/rooms")
    assert [r["name"] for r in mine["rooms"]] == ["General"]


async def test_history_pages_go_before_and_after_a_number(bot_for, room, ana):
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=ana, texts=[f"m{n}" for n in range(1, 11)]
    )
    bot = await bot_for(ana)
    _, latest = await bot.get(f"/rooms/{room.pk}/messages", limit=3)
    assert [m["text"] for m in latest["messages"]] == ["m8", "m9", "m10"]
    assert latest["has_more"] is True
    _, older = await bot.get(f"/rooms/{room.pk}/messages", before=8, limit=3)
    assert [m["seq"] for m in older["messages"]] == [5, 6, 7]
    _, newer = await bot.get(f"/rooms/{room.pk}/messages", after=7, limit=2)
    assert ([m["seq"] for m in newer["messages"]], newer["has_more"]) == ([8, 9], True)
    _, between = await bot.get(f"/rooms/{room.pk}/messages", after=2, before=5)
    assert ([m["seq"] for m in between["messages"]], between["has_more"]) == ([3, 4], False)
    status, error = await bot.get(f"/rooms/{room.pk}/messages", before="soon")
    assert (status, error["type"], error["code"]) == (400, "error", "invalid_field")


async def test_edit_delete_and_react_answer_the_messages_new_state(bot_for, room, ana, bo):
    bot = await bot_for(ana)
    _, posted = await bot.send(
        "post", f"/rooms/{room.pk}/messages", {"client_id": "a", "text": "hi"}
    )
    seq = posted["seq"]
    status, edited = await bot.send("patch", f"/rooms/{room.pk}/messages/{seq}", {"text": "hello"})
    assert (status, edited["text"], edited["version"]) == (200, "hello", 2)
    # (Reactions, whose emoji is in the URL, are tried on a real server in
    # tests/test_api_live.py: Django's test client sends a path as Latin-1, uvicorn as UTF-8.)
    bo_bot = await bot_for(bo)
    status, error = await bo_bot.send(
        "patch", f"/rooms/{room.pk}/messages/{seq}", {"text": "mine now"}
    )
    assert (status, error["code"]) == (403, "forbidden")
    status, tombstone = await bot.send("delete", f"/rooms/{room.pk}/messages/{seq}")
    assert (status, tombstone["deleted"], tombstone["text"]) == (200, True, "")
    status, error = await bot.send("patch", f"/rooms/{room.pk}/messages/{seq}", {"text": "back"})
    assert (status, error["code"]) == (410, "gone")
    status, error = await bot.send("patch", f"/rooms/{room.pk}/messages/999", {"text": "x"})
    assert (status, error["code"]) == (404, "not_found")


async def test_bad_bodies_get_the_sockets_codes_and_store_nothing(bot_for, room, ana, settings):
    bot = await bot_for(ana)
    path = f"/rooms/{room.pk}/messages"
    cases = [
        ({"client_id": "x", "text": "   "}, "blank_message"),
        (
            {"client_id": "x", "text": "y" * (settings.CHAT_MESSAGE_MAX_CHARS + 1)},
            "message_too_long",
        ),
        ({"client_id": "bad id!", "text": "hi"}, "invalid_field"),
        ({"text": "no id"}, "invalid_field"),
        ({"client_id": "x", "text": "hi", "sender": {"id": 99}}, "invalid_field"),
        ({"client_id": "x", "text": "hi", "type": "message.edit"}, "invalid_field"),
        ([1, 2], "not_an_object"),
        ({"client_id": "x", "text": "hi", "reply_to": 77}, "not_found"),
    ]
    for body, code in cases:
        status, error = await bot.send("post", path, body)
        assert (error["type"], error["code"]) == ("error", code), body
        assert status in (400, 404)
    status, error = await bot.send("post", path, {"client_id": "x", "text": "y" * 70_000})
    assert (status, error["code"]) == (413, "frame_too_large")
    response = await bot.raw("post", path, "{not json")
    assert response.json()["code"] == "invalid_json"
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_a_private_room_is_as_absent_to_outsiders_as_a_room_that_never_was(
    bot_for, secret_room, ana, bo
):
    outsider = await bot_for(bo)
    for status, body in [
        await outsider.get(f"/rooms/{secret_room.pk}"),
        await outsider.get(f"/rooms/{secret_room.pk}/messages"),
        await outsider.get(f"/rooms/{secret_room.pk}/events"),
        await outsider.get("/search", q="plans", room=secret_room.pk),
        await outsider.send(
            "post", f"/rooms/{secret_room.pk}/messages", {"client_id": "a", "text": "x"}
        ),
        await outsider.get("/rooms/987654"),
    ]:
        assert (status, body["code"]) == (404, "not_found")
    member = await bot_for(ana)
    status, info = await member.get(f"/rooms/{secret_room.pk}")
    assert (status, info["private"]) == (200, True)


async def test_search_finds_what_the_person_may_see(bot_for, room, secret_room, ana, bo):
    await database_sync_to_async(services.messages_import)(
        room_id=room.pk, sender=ana, texts=["the deploy went fine"]
    )
    await database_sync_to_async(services.messages_import)(
        room_id=secret_room.pk, sender=ana, texts=["secret deploy plans"]
    )
    _, found = await (await bot_for(bo)).get("/search", q="deploy")
    assert [hit["room_name"] for hit in found["hits"]] == ["General"]
    pieces = found["hits"][0]["snippet"]
    assert {"text": "deploy", "match": True} in pieces
    _, found = await (await bot_for(ana)).get("/search", q="deploy")
    assert len(found["hits"]) == 2
    status, error = await (await bot_for(ana)).get("/search", q="x" * 10_000)
    assert (status, error["code"]) == (400, "query_too_long")


async def test_no_token_a_wrong_one_or_a_revoked_one_is_refused(room, ana):
    status = (await AsyncClient().get("/api/v1/rooms")).status_code
    assert status == 401
    wrong = {"Authorization": "Bearer chat_stolen-or-made-up"}
    response = await AsyncClient().get("/api/v1/rooms", headers=wrong)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
    headers = await database_sync_to_async(bearer)(ana)
    assert (await AsyncClient().get("/api/v1/rooms", headers=headers)).status_code == 200
    token = await database_sync_to_async(AccessToken.objects.get)()
    await database_sync_to_async(tokens.token_revoke)(person=ana, token_id=token.pk)
    response = await AsyncClient().get("/api/v1/rooms", headers=headers)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


async def test_the_session_works_too_and_needs_the_csrf_token_to_write(room, ana):
    client = await database_sync_to_async(logged_in)(ana)
    browser = AsyncClient(enforce_csrf_checks=True)
    browser.cookies = client.cookies
    assert (await browser.get("/api/v1/rooms")).status_code == 200
    response = await browser.post(
        f"/api/v1/rooms/{room.pk}/messages",
        data=json.dumps({"client_id": "s1", "text": "from the page"}),
        content_type="application/json",
    )
    assert response.status_code in (401, 403)
    assert await database_sync_to_async(Message.objects.count)() == 0


async def test_posts_share_the_sockets_rate_limit(bot_for, room, ana, settings):
    settings.CHAT_RATE_BURST = 2
    settings.CHAT_RATE_PER_SECOND = 0.01
    bot = await bot_for(ana)
    path = f"/rooms/{room.pk}/messages"
    for n in range(2):
        status, _ = await bot.send("post", path, {"client_id": f"r{n}", "text": "hi"})
        assert status == 201
    status, error = await bot.send("post", path, {"client_id": "r2", "text": "hi"})
    assert (status, error["code"], error["client_id"]) == (429, "rate_limited", "r2")
    assert error["retry_after_ms"] > 0


async def test_the_long_poll_answers_at_once_when_behind_and_wakes_on_the_next_event(
    bot_for, room, ana, bo
):
    bot = await bot_for(ana)
    await bot.send("post", f"/rooms/{room.pk}/messages", {"client_id": "first", "text": "one"})
    _, caught_up = await bot.get(f"/rooms/{room.pk}/events", after=0, wait=10)
    assert [e["type"] for e in caught_up["events"]] == ["message.created"]
    assert caught_up["last_seq"] == 1

    waiting = asyncio.create_task(bot.get(f"/rooms/{room.pk}/events", after=1, wait=10))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    other = await bot_for(bo)
    await other.send("post", f"/rooms/{room.pk}/messages", {"client_id": "second", "text": "two"})
    status, woke = await asyncio.wait_for(waiting, 5)
    assert status == 200
    assert [(e["type"], e["seq"], e["message"]["text"]) for e in woke["events"]] == [
        ("message.created", 2, "two")
    ]


async def test_an_empty_long_poll_ends_after_its_wait_and_a_stale_epoch_resets(bot_for, room, ana):
    bot = await bot_for(ana)
    _, nothing = await bot.get(f"/rooms/{room.pk}/events", after=0, wait=0.2)
    assert (nothing["type"], nothing["events"], nothing["last_seq"]) == ("sync.result", [], 0)
    _, reset = await bot.get(f"/rooms/{room.pk}/events", after=0, epoch="restored")
    assert (reset["type"], reset["reason"]) == ("reset", "epoch")


def test_the_account_page_makes_a_token_shows_it_once_and_revokes_it(ana):
    ana.set_password("a long enough password")
    ana.save()
    page = logged_in(ana)
    made = page.post(
        "/account/", {"form": "token_create", "name": "Nightly build bot"}, follow=True
    )
    assert made.redirect_chain  # reloading the page shown is a GET: it makes no token
    secret = made.context["new_token"]["secret"]
    assert secret.startswith("chat_") and secret in made.content.decode()
    token = AccessToken.objects.get()
    assert token.digest != secret and secret not in token.digest  # only its hash is kept
    again = page.get("/account/").content.decode()
    assert "Nightly build bot" in again and secret not in again  # shown once
    page.post("/account/", {"form": "token_revoke", "token": token.pk})
    assert tokens.person_for_token(secret) is None
    assert "Nightly build bot" not in page.get("/account/").content.decode()


def test_the_openapi_document_is_served_with_the_wire_shapes():
    from django.test import Client

    document = Client().get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    assert "/api/v1/rooms/{room_id}/events" in document["paths"]
    schemas = document["components"]["schemas"]
    assert {"WireMessage", "SyncResult", "Error", "SendMessage"} <= set(schemas)
    assert schemas["SendMessage"]["properties"]["client_id"]["pattern"] == "^[A-Za-z0-9_-]+$"
    assert Client().get("/api/docs").status_code == 200


async def test_reads_are_limited_per_person_and_say_when_to_ask_again(bot_for, room, ana, settings):
    settings.CHAT_READS_PER_MINUTE = 3
    bot = await bot_for(ana)
    for _ in range(3):
        status, _ = await bot.get(f"/rooms/{room.pk}/messages")
        assert status == 200
    status, error = await bot.get(f"/rooms/{room.pk}/events", after=0)
    assert (status, error["code"]) == (429, "rate_limited")
    assert 0 < error["retry_after_ms"] <= 60_000


def test_searches_from_the_page_are_limited_too(room, ana, settings):
    settings.CHAT_READS_PER_MINUTE = 2
    page = logged_in(ana)
    assert page.get("/search", {"q": "one"}).status_code == 200
    assert page.get("/search", {"q": "two"}).status_code == 200
    refused = page.get("/search", {"q": "three"})
    assert refused.status_code == 429
    assert "Too many searches" in refused.content.decode()


async def test_a_long_poll_of_a_room_made_private_meanwhile_ends_for_an_outsider(
    bot_for, room, ana, bo
):
    await database_sync_to_async(services.membership_join)(room=room, person=ana)
    await database_sync_to_async(lambda: room.memberships.filter(person=ana).update(role="owner"))()
    outsider = await bot_for(bo)
    waiting = asyncio.create_task(outsider.get(f"/rooms/{room.pk}/events", after=0, wait=10))
    await asyncio.sleep(0.3)
    await database_sync_to_async(services.room_privacy_set)(
        person=ana, room_id=room.pk, private=True
    )
    status, answer = await asyncio.wait_for(waiting, 5)
    assert (status, answer["code"]) == (404, "not_found")
