"""Web Push: a browser's subscription is kept for the person; what they chose to hear of
reaches each of their browsers through its push service, signed with this server's VAPID
key and encrypted for that browser, a few seconds late and never once read or deleted.

The push service here is a real HTTP server on 127.0.0.1 that checks the VAPID signature
and decrypts each payload with the browser's private key, as a browser's would."""

from __future__ import annotations

import base64
import json
import os
import queue
import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from django.urls import reverse
from django.utils import timezone

from chat import push, runtime, services
from chat.models import Membership, Mention, Message, PushCursor, PushSubscription
from chat.services import push as push_services
from tests.conftest import logged_in, new_client_id

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("announcements_captured")]


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: dict


class Browser:
    """A browser's side of a subscription: its key pair and auth secret."""

    def __init__(self, service: PushService, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.endpoint = f"{service.url}/push/{name}"

    def subscription(self) -> dict:
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        keys = {"p256dh": b64url(public), "auth": b64url(self.auth)}
        return {"endpoint": self.endpoint, "keys": keys}


class PushService:
    """A push service: checks each request's VAPID signature and decrypts its payload for
    the browser it is addressed to; answers `status` (per path, else 201)."""

    def __init__(self) -> None:
        self.received: queue.Queue[Received] = queue.Queue()
        self.browsers: dict[str, Browser] = {}
        self.status: dict[str, int] = {}
        self.redirects: dict[str, str] = {}  # path -> where it sends the request on
        self.hits: list[str] = []  # every path POSTed to, whatever came of it
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                service.hits.append(self.path)
                if self.path in service.redirects:
                    self.send_response(307)
                    self.send_header("Location", service.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                browser = service.browsers[self.path]
                service.check_vapid(self.headers["Authorization"])
                plain = http_ece.decrypt(
                    body, private_key=browser.key, auth_secret=browser.auth, version="aes128gcm"
                )
                headers = {k.lower(): v for k, v in self.headers.items()}
                service.received.put(Received(self.path, headers, json.loads(plain)))
                self.send_response(service.status.get(self.path, 201))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def browser(self, name: str) -> Browser:
        browser = Browser(self, name)
        self.browsers[f"/push/{name}"] = browser
        return browser

    def check_vapid(self, header: str) -> None:
        scheme, _, params = header.partition(" ")
        assert scheme == "vapid"
        fields = dict(part.split("=", 1) for part in params.split(","))
        header_b64, claims_b64, signature_b64 = fields["t"].split(".")
        claims = json.loads(unb64url(claims_b64))
        assert claims["aud"] == self.url
        assert claims["sub"].startswith("mailto:")
        assert fields["k"] == push.public_key()
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(fields["k"]))
        signature = unb64url(signature_b64)
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        public.verify(
            encode_dss_signature(r, s),
            f"{header_b64}.{claims_b64}".encode(),
            ec.ECDSA(hashes.SHA256()),
        )

    def all_received(self) -> list[Received]:
        got = []
        while not self.received.empty():
            got.append(self.received.get_nowait())
        return got

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def push_service(settings, tmp_path):
    settings.CHAT_VAPID_PRIVATE_KEY = push.new_private_key()
    settings.CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS = True
    settings.CHAT_PUSH_DELAY_SECONDS = 0
    service = PushService()
    yield service
    service.close()


@pytest.fixture
def people(user_factory):
    return {name: user_factory(name) for name in ("Ana", "Bo", "Cy")}


@pytest.fixture
def room(people, push_service):
    room = services.room_join(name="Lobby", person=people["Ana"])
    services.room_join(name="Lobby", person=people["Bo"])
    services.room_join(name="Lobby", person=people["Cy"])
    push_services.pushes_due()  # the cursor starts here: nothing before push was set up
    return room


def subscribe(push_service, person, name=None) -> Browser:
    browser = push_service.browser(name or person.username)
    push_services.subscription_save(person=person, data=browser.subscription(), browser_token="t")
    return browser


def post(room, sender, text, mentions=()):
    return services.message_post(
        room_id=room.pk, sender=sender, text=text, client_id=new_client_id(), mentions=mentions
    )[0]


def sweep(**kwargs) -> int:
    return push.sweep(push.vapid(), requests.Session(), **kwargs)


def test_a_mention_reaches_the_mentioned_persons_browser_signed_and_encrypted(
    room, people, push_service
):
    subscribe(push_service, people["Bo"])
    message = post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert sweep() == 1
    [received] = push_service.all_received()
    assert received.path == "/push/bo"
    assert received.payload["title"] == "Ana mentioned you in Lobby"
    assert received.payload["body"] == "@Bo lunch?"
    # The tab's own notification has the same tag: a device shows the message once.
    assert received.payload["tag"] == f"chat-{room.pk}-{message.seq}"
    assert received.payload["url"] == f"/r/{room.pk}/#message-{message.seq}"
    assert received.headers["urgency"] == "high"
    assert int(received.headers["ttl"]) > 0


def test_a_mention_notifies_once_whatever_the_level(room, people, push_service):
    subscribe(push_service, people["Bo"])
    Membership.objects.filter(person=people["Bo"]).update(notify=Membership.NOTIFY_ALL)
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert sweep() == 1
    assert sweep() == 0
    assert len(push_service.all_received()) == 1


def test_each_of_a_persons_browsers_is_told(room, people, push_service):
    subscribe(push_service, people["Bo"], "bo-laptop")
    subscribe(push_service, people["Bo"], "bo-phone")
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    sweep()
    assert {r.path for r in push_service.all_received()} == {"/push/bo-laptop", "/push/bo-phone"}


@pytest.mark.parametrize(
    ("level", "mentioned", "told"),
    [
        (Membership.NOTIFY_ALL, False, True),
        (Membership.NOTIFY_MENTIONS, False, False),
        (Membership.NOTIFY_MENTIONS, True, True),
        (Membership.NOTIFY_NONE, True, False),
    ],
)
def test_each_person_is_told_what_they_chose_per_room(
    room, people, push_service, level, mentioned, told
):
    subscribe(push_service, people["Bo"])
    Membership.objects.filter(person=people["Bo"]).update(notify=level)
    if mentioned:
        post(room, people["Ana"], "@Bo hi", [people["Bo"].pk])
    else:
        post(room, people["Ana"], "hi")

    sweep()
    assert len(push_service.all_received()) == (1 if told else 0)


def test_nobody_is_told_of_their_own_message(room, people, push_service):
    subscribe(push_service, people["Ana"])
    Membership.objects.filter(person=people["Ana"]).update(notify=Membership.NOTIFY_ALL)
    post(room, people["Ana"], "hi all")

    sweep()
    assert push_service.all_received() == []


def test_a_notification_waits_and_is_not_sent_once_the_message_is_read(
    room, people, push_service, settings
):
    settings.CHAT_PUSH_DELAY_SECONDS = 5
    subscribe(push_service, people["Bo"])
    message = post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])
    soon = timezone.now() + timedelta(seconds=1)

    assert sweep(now=soon) == 0  # not due yet: nothing sent, nothing passed over
    services.read_mark(person=people["Bo"], room_id=room.pk, seq=message.seq)
    assert sweep(now=soon + timedelta(seconds=5)) == 0
    assert push_service.all_received() == []


def test_a_notification_is_sent_once_due(room, people, push_service, settings):
    settings.CHAT_PUSH_DELAY_SECONDS = 5
    subscribe(push_service, people["Bo"])
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])
    now = timezone.now()

    assert sweep(now=now + timedelta(seconds=1)) == 0
    assert sweep(now=now + timedelta(seconds=6)) == 1


def test_a_notification_is_not_sent_once_the_message_is_deleted(
    room, people, push_service, settings
):
    settings.CHAT_PUSH_DELAY_SECONDS = 5
    subscribe(push_service, people["Bo"])
    message = post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])
    services.message_delete(room_id=room.pk, deleter=people["Ana"], message_seq=message.seq)

    assert sweep(now=timezone.now() + timedelta(seconds=6)) == 0


def test_an_edit_that_adds_a_mention_notifies_only_the_newly_mentioned(room, people, push_service):
    subscribe(push_service, people["Bo"])
    subscribe(push_service, people["Cy"])
    message = post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])
    assert sweep() == 1
    push_service.all_received()

    services.message_edit(
        room_id=room.pk,
        editor=people["Ana"],
        message_seq=message.seq,
        text="@Bo @Cy lunch?",
        mentions=[people["Bo"].pk, people["Cy"].pk],
    )
    assert sweep() == 1
    [received] = push_service.all_received()
    assert received.path == "/push/cy"
    assert received.payload["body"] == "@Bo @Cy lunch?"


def test_several_messages_in_a_room_make_one_notification(room, people, push_service):
    subscribe(push_service, people["Bo"])
    Membership.objects.filter(person=people["Bo"]).update(notify=Membership.NOTIFY_ALL)
    post(room, people["Ana"], "one")
    post(room, people["Cy"], "two")
    last = post(room, people["Ana"], "three")

    assert sweep() == 1
    [received] = push_service.all_received()
    assert received.payload["title"] == "Ana in Lobby (+2 more)"
    assert received.payload["tag"] == f"chat-{room.pk}-{last.seq}"


def test_a_direct_message_notifies_by_default_and_is_named_by_its_sender(people, push_service):
    push_services.pushes_due()
    subscribe(push_service, people["Bo"])
    direct = services.direct_open(person=people["Ana"], names=["Bo"])
    post(direct, people["Ana"], "psst")

    assert sweep() == 1
    [received] = push_service.all_received()
    assert received.payload["title"] == "Ana"
    assert received.headers["urgency"] == "high"


def test_someone_removed_from_a_private_room_is_no_longer_told(room, people, push_service):
    subscribe(push_service, people["Bo"])
    Membership.objects.filter(person=people["Bo"]).update(notify=Membership.NOTIFY_ALL)
    services.room_privacy_set(room_id=room.pk, person=people["Ana"], private=True)
    services.member_remove(room_id=room.pk, person=people["Ana"], member_id=people["Bo"].pk)
    post(room, people["Ana"], "secret plans")

    assert sweep() == 0


def test_messages_from_before_push_was_set_up_stay_quiet(people, push_service):
    PushCursor.objects.all().delete()
    room = services.room_join(name="Old", person=people["Ana"])
    services.room_join(name="Old", person=people["Bo"])
    post(room, people["Ana"], "@Bo an old one", [people["Bo"].pk])
    subscribe(push_service, people["Bo"])

    assert sweep() == 0
    post(room, people["Ana"], "@Bo a new one", [people["Bo"].pk])
    assert sweep() == 1


@pytest.mark.parametrize("status", [404, 410])
def test_a_subscription_the_push_service_says_is_gone_is_forgotten(
    room, people, push_service, status
):
    browser = subscribe(push_service, people["Bo"])
    push_service.status["/push/bo"] = status
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert sweep() == 0
    assert not PushSubscription.objects.filter(endpoint=browser.endpoint).exists()


def test_a_push_service_that_fails_keeps_the_subscription(room, people, push_service):
    browser = subscribe(push_service, people["Bo"])
    push_service.status["/push/bo"] = 503
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert sweep() == 0
    assert PushSubscription.objects.filter(endpoint=browser.endpoint).exists()


@pytest.mark.django_db(transaction=True)
async def test_a_running_server_sends_from_its_own_thread(people, push_service, settings):
    """The runtime starts a sender when a key is set up; nothing here calls a sweep."""
    from channels.db import database_sync_to_async

    settings.CHAT_PUSH_POLL_SECONDS = 0.05

    @database_sync_to_async
    def set_up():
        room = services.room_join(name="Lobby", person=people["Ana"])
        services.room_join(name="Lobby", person=people["Bo"])
        push_services.pushes_due()
        subscribe(push_service, people["Bo"])
        return room

    room = await set_up()
    await runtime.stop()
    async with runtime.running() as started:
        assert started.push_sender is not None
        await database_sync_to_async(post)(room, people["Ana"], "@Bo hi", [people["Bo"].pk])
        received = await asyncio_get(push_service.received, timeout=10)
    assert received.payload["title"] == "Ana mentioned you in Lobby"


async def asyncio_get(source: queue.Queue, timeout: float):
    import asyncio

    return await asyncio.to_thread(source.get, True, timeout)


# The page's side: subscribing, forgetting, logging out.


@pytest.fixture
def browser_keys(push_service):
    return push_service.browser("page").subscription()


def subscribe_page(client, data):
    return client.post(
        reverse("chat:push_subscriptions"), json.dumps(data), content_type="application/json"
    )


def test_a_page_subscribes_its_browser_for_the_person_logged_in(people, browser_keys):
    client = logged_in(people["Bo"])
    assert subscribe_page(client, browser_keys).status_code == 201
    assert subscribe_page(client, browser_keys).status_code == 200  # every visit renews it
    subscription = PushSubscription.objects.get()
    assert subscription.person == people["Bo"]
    assert subscription.endpoint == browser_keys["endpoint"]


def test_the_same_browser_subscribing_for_someone_else_is_now_theirs(people, browser_keys):
    subscribe_page(logged_in(people["Bo"]), browser_keys)
    subscribe_page(logged_in(people["Cy"]), browser_keys)
    assert PushSubscription.objects.get().person == people["Cy"]


def bad(keys: dict, **changes) -> dict:
    changed = json.loads(json.dumps(keys))
    for path, value in changes.items():
        if path == "endpoint":
            changed["endpoint"] = value
        else:
            changed["keys"][path] = value
    return changed


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "ftp://push.example/1"},
        {"endpoint": "https://user:pw@push.example/1"},
        {"endpoint": "https://push.example/" + "a" * 2000},
        {"endpoint": 7},
        {"p256dh": "not base64!"},
        {"p256dh": b64url(b"\x04" + b"\x00" * 64)},  # not a point on the curve
        {"p256dh": b64url(b"\x04" * 10)},
        {"auth": b64url(b"short")},
        {"auth": None},
    ],
)
def test_a_bad_subscription_is_refused_and_nothing_is_stored(people, browser_keys, change):
    response = subscribe_page(logged_in(people["Bo"]), bad(browser_keys, **change))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subscription"
    assert not PushSubscription.objects.exists()


@pytest.mark.parametrize("body", ["not json", "[]", '{"endpoint": "https://x/"}'])
def test_a_subscription_that_is_not_one_is_refused(people, push_service, body):
    response = logged_in(people["Bo"]).post(
        reverse("chat:push_subscriptions"), body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_subscription"


def test_an_endpoint_that_is_not_a_push_service_is_refused(people, browser_keys, settings):
    settings.CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS = False
    for endpoint in (
        "http://fcm.googleapis.com/fcm/send/1",  # not https
        "https://127.0.0.1/1",
        "https://10.0.0.7/1",
        "https://localhost/1",
        "https://metadata.google.internal/1",
        "https://fcm.googleapis.com.evil.example/1",
        "https://evilfcm.googleapis.com.example/1",
    ):
        response = subscribe_page(logged_in(people["Bo"]), bad(browser_keys, endpoint=endpoint))
        assert response.json()["error"] == "invalid_subscription", endpoint
    assert not PushSubscription.objects.exists()


def test_only_someone_logged_in_subscribes(client, browser_keys):
    response = subscribe_page(client, browser_keys)
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


def test_a_server_without_a_key_says_it_does_not_push(people, settings):
    settings.CHAT_VAPID_PRIVATE_KEY = ""
    response = subscribe_page(logged_in(people["Bo"]), {"endpoint": "https://x/", "keys": {}})
    assert response.status_code == 404
    assert response.json()["error"] == "push_off"


def test_a_page_forgets_its_browser(people, browser_keys):
    client = logged_in(people["Bo"])
    subscribe_page(client, browser_keys)
    response = client.delete(
        reverse("chat:push_subscriptions"),
        json.dumps({"endpoint": browser_keys["endpoint"]}),
        content_type="application/json",
    )
    assert response.status_code == 204
    assert not PushSubscription.objects.exists()


def test_logging_out_stops_that_browsers_notifications_only(people, browser_keys, push_service):
    here = logged_in(people["Bo"])
    subscribe_page(here, browser_keys)
    elsewhere = logged_in(people["Bo"])
    subscribe_page(elsewhere, push_service.browser("phone").subscription())

    here.post(reverse("accounts:logout"))
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        push_service.browser("phone").endpoint
    ]


def test_the_room_page_gives_the_key_to_subscribe_with(people, push_service, room):
    response = logged_in(people["Bo"]).get(reverse("chat:room", args=[room.pk]))
    config = response.context["config"]
    assert config["push"]["key"] == push.public_key()
    assert unb64url(config["push"]["key"])[0] == 4  # an uncompressed P-256 point


def test_the_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert b'addEventListener("push"' in response.content


def test_the_site_is_an_installable_web_app(client, settings):
    from django.contrib.staticfiles import finders

    manifest = client.get("/manifest.webmanifest").json()
    assert manifest["display"] == "standalone"
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in manifest["icons"]}
    for icon in manifest["icons"]:
        assert finders.find(icon["src"].removeprefix(settings.STATIC_URL)), icon["src"]


def test_the_key_command_makes_a_key_once_and_prints_it(settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    settings.CHAT_VAPID_PRIVATE_KEY = ""
    settings.CHAT_VAPID_KEY_FILE = tmp_path / "vapid"
    first, second = StringIO(), StringIO()
    call_command("webpush_keys", stdout=first, stderr=StringIO())
    call_command("webpush_keys", stdout=second, stderr=StringIO())
    assert first.getvalue() == second.getvalue()
    assert first.getvalue().startswith("CHAT_VAPID_PRIVATE_KEY=")
    assert push.public_key() is not None


def test_nothing_to_do_when_nobody_subscribed(room, people, push_service):
    post(room, people["Ana"], "@Bo hi", [people["Bo"].pk])
    assert push_services.pushes_due().pushes == []
    assert PushCursor.objects.get().message_id == Message.objects.latest("id").id
    assert PushCursor.objects.get().mention_id == Mention.objects.latest("id").id


def test_staff_see_and_stop_subscriptions_in_the_admin(admin_client, people, browser_keys):
    subscribe_page(logged_in(people["Bo"]), browser_keys)
    listing = admin_client.get(reverse("admin:chat_pushsubscription_changelist"))
    assert listing.status_code == 200
    assert b"127.0.0.1" in listing.content
    assert browser_keys["keys"]["auth"].encode() not in listing.content
    subscription = PushSubscription.objects.get()
    admin_client.post(
        reverse("admin:chat_pushsubscription_delete", args=[subscription.pk]), {"post": "yes"}
    )
    assert not PushSubscription.objects.exists()


def test_the_browsers_push_services_are_accepted(people, browser_keys, settings):
    settings.CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS = False
    for endpoint in (
        "https://fcm.googleapis.com/fcm/send/abc",
        "https://updates.push.services.mozilla.com/wpush/v2/abc",
        "https://wns2-par02p.notify.windows.com/w/?token=abc",
        "https://web.push.apple.com/abc",
    ):
        response = subscribe_page(logged_in(people["Bo"]), bad(browser_keys, endpoint=endpoint))
        assert response.status_code == 201, endpoint


def test_a_push_service_that_redirects_is_not_followed(room, people, push_service):
    """The server POSTs only to the endpoint itself, never where a redirect points."""
    subscribe(push_service, people["Bo"])
    push_service.browser("inside")  # where the redirect points: a decryptable address
    push_service.redirects["/push/bo"] = f"{push_service.url}/push/inside"
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert push.sweep(push.vapid(), push.push_session()) == 0
    assert push_service.hits == ["/push/bo"]  # the endpoint, once; nothing after it


def test_a_person_keeps_their_ten_most_recent_browsers(people, push_service):
    for n in range(12):
        subscribe(push_service, people["Bo"], f"bo-{n}")
    kept = set(PushSubscription.objects.values_list("endpoint", flat=True))
    assert kept == {push_service.browser(f"bo-{n}").endpoint for n in range(2, 12)}


def test_a_browser_not_seen_for_a_sessions_lifetime_is_forgotten(
    room, people, push_service, settings
):
    browser = subscribe(push_service, people["Bo"])
    PushSubscription.objects.update(
        renewed_at=timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE + 60)
    )
    post(room, people["Ana"], "@Bo lunch?", [people["Bo"].pk])

    assert sweep() == 0
    assert not PushSubscription.objects.filter(endpoint=browser.endpoint).exists()


def change_password(client):
    from tests.conftest import PASSWORD

    new = "a new horse battery"
    form = {"form": "password", "old_password": PASSWORD}
    response = client.post(
        reverse("accounts:account"), {**form, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302


def test_logging_out_after_a_password_change_still_stops_that_browser(
    account_factory, browser_keys
):
    """Changing the password gives the session a new key; the browser is still known."""
    person = account_factory("Dee")
    client = logged_in(person)
    subscribe_page(client, browser_keys)
    change_password(client)
    assert PushSubscription.objects.count() == 1  # this browser stays
    client.post(reverse("accounts:logout"))
    assert not PushSubscription.objects.exists()


def test_a_new_password_stops_the_other_browsers(account_factory, browser_keys, push_service):
    """Whoever held the account elsewhere is logged out, and hears nothing more of it."""
    person = account_factory("Dee")
    here, elsewhere = logged_in(person), logged_in(person)
    subscribe_page(here, browser_keys)
    subscribe_page(elsewhere, push_service.browser("thief").subscription())
    change_password(here)
    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [
        browser_keys["endpoint"]
    ]


def test_a_password_reset_stops_every_browser(client, account_factory, browser_keys):
    from django.core import mail

    from tests.test_accounts import NEW_PASSWORD, reset_link

    person = account_factory("Dee", email="dee@example.com")
    subscribe_page(logged_in(person), browser_keys)
    client.post(reverse("accounts:password_reset"), {"email": "dee@example.com"})
    form_page = client.get(reset_link(mail.outbox[-1]), follow=True)
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert not PushSubscription.objects.exists()
