"""How long the Web Push sender's look takes (chat.services.push.pushes_due): a room of 50
members at "all messages", each with a subscribed browser, and 1, 100 or 500 messages due;
then a look with nothing new. Sends nothing. Run on a throwaway database:

    DJANGO_DEBUG=1 DJANGO_VAR_DIR=/tmp/pushlook .venv/bin/python bench/push_look.py
    DJANGO_DEBUG=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/pushlook \\
        .venv/bin/python bench/push_look.py
"""

import base64
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from chat import services  # noqa: E402
from chat.models import Membership, User  # noqa: E402
from chat.services import push as push_services  # noqa: E402

MEMBERS = 50


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def main() -> None:
    call_command("migrate", verbosity=0)
    settings.CHAT_PUSH_DELAY_SECONDS = 0
    settings.CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS = True
    tag = uuid.uuid4().hex[:6]
    people = [
        User.objects.create(username=f"p{tag}{i}", display_name=f"P{i}") for i in range(MEMBERS)
    ]
    room = services.room_join(name=f"bench {tag}", person=people[0])
    for person in people[1:]:
        services.room_join(name=f"bench {tag}", person=person)
    Membership.objects.filter(room=room).update(notify=Membership.NOTIFY_ALL)
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    p256dh = b64(
        public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )
    for i, person in enumerate(people):
        subscription = {
            "endpoint": f"http://127.0.0.1:9/{tag}/{i}",
            "keys": {"p256dh": p256dh, "auth": b64(os.urandom(16))},
        }
        push_services.subscription_save(person=person, data=subscription, browser_token="t")
    push_services.pushes_due()
    for count in (1, 100, 500):
        for j in range(count):
            services.message_post(
                room_id=room.pk,
                sender=people[j % MEMBERS],
                text=f"m{j}",
                client_id=uuid.uuid4().hex,
            )
        started = time.perf_counter()
        due = push_services.pushes_due()
        took = (time.perf_counter() - started) * 1000
        print(f"{connection.vendor}: {count} due -> {len(due.pushes)} pushes in {took:.1f} ms")
    started = time.perf_counter()
    for _ in range(100):
        push_services.pushes_due()
    idle = (time.perf_counter() - started) * 10
    print(f"{connection.vendor}: a look with nothing new {idle:.2f} ms")


if __name__ == "__main__":
    main()
