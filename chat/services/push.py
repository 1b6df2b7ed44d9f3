"""Web Push: the browsers that asked to be told, and what is due to them.

A notification waits CHAT_PUSH_DELAY_SECONDS after its message (or the edit that mentions
someone), so that what was read or deleted meanwhile is never sent. `pushes_due` looks at
what has become due since the last look, in id order behind one cursor row; the worker that
holds that row's lock is the one that sends, so several workers never send one thing twice.
The sending itself (network, keys) is chat.push's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, QuerySet
from django.templatetags.static import static
from django.utils import timezone

from chat.access import may_enter
from chat.models import Membership, Mention, Message, PushCursor, PushSubscription, User
from chat.services.log import Refused

BODY_MAX_CHARS = 140
ENDPOINT_MAX_CHARS = 2000
# Where a session keeps the secret its browser's subscription is known by.
BROWSER_TOKEN_SESSION_KEY = "chat.push_browser"
SUBSCRIPTIONS_PER_PERSON_MAX = 10  # browsers and devices; the oldest goes first


class InvalidSubscription(Refused):
    code = "invalid_subscription"


def _b64url(value: object, *, length: int, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 4 * length:
        raise InvalidSubscription(f"The subscription's {what} is missing or too long.")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"The subscription's {what} is not base64url.") from None
    if len(raw) != length:
        raise InvalidSubscription(f"The subscription's {what} has the wrong length.")
    return raw


def push_service_host(endpoint: str) -> str:
    """Which push service an endpoint is at (for logs and the admin: never the whole
    address, which is the browser's secret)."""
    return urlsplit(endpoint).hostname or "?"


def _known_push_service(host: str) -> bool:
    hosts = settings.CHAT_PUSH_SERVICE_HOSTS
    return "*" in hosts or any(host == known or host.endswith("." + known) for known in hosts)


def _check_endpoint(endpoint: object) -> str:
    """A push service's address: one of the browsers' push services (the server POSTs
    there, so an endpoint must not be a way to reach the server's neighbours)."""
    if not isinstance(endpoint, str) or not 0 < len(endpoint) <= ENDPOINT_MAX_CHARS:
        raise InvalidSubscription("The subscription needs an endpoint of at most 2000 characters.")
    parts = urlsplit(endpoint)
    insecure_allowed = settings.CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS
    if parts.scheme != "https" and not (insecure_allowed and parts.scheme == "http"):
        raise InvalidSubscription("A push endpoint is an https:// address.")
    if not parts.hostname or parts.username or parts.password:
        raise InvalidSubscription("A push endpoint names a host, and no user or password.")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        address = None
    if insecure_allowed:
        return endpoint
    if address is not None and not address.is_global:
        raise InvalidSubscription("A push endpoint is a push service, not a private address.")
    if not _known_push_service(parts.hostname):
        raise InvalidSubscription("That is not a push service this server sends to.")
    return endpoint


def subscription_check(data: object) -> tuple[str, str, str]:
    """The endpoint and keys of a subscription as the browser's PushSubscription.toJSON()
    gives it, checked; InvalidSubscription says what is wrong."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        raise InvalidSubscription("Send the subscription as {endpoint, keys: {p256dh, auth}}.")
    endpoint = _check_endpoint(data.get("endpoint"))
    keys = data["keys"]
    public = _b64url(keys.get("p256dh"), length=65, what="p256dh key")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public)
    except ValueError:
        raise InvalidSubscription("The subscription's p256dh key is not a P-256 point.") from None
    _b64url(keys.get("auth"), length=16, what="auth secret")
    return endpoint, keys["p256dh"], keys["auth"]


def browser_hash(token: str | None) -> str:
    return hashlib.sha256(token.encode()).hexdigest() if token else ""


def subscription_save(*, person: User, data: object, browser_token: str) -> bool:
    """Keep the browser's subscription for the person; True when it is new to them. The
    same browser subscribing for someone else (after a log-out) is now theirs.
    `browser_token`: a secret the person's session holds (it ends with the session)."""
    endpoint, p256dh, auth = subscription_check(data)
    values = {
        "person": person,
        "p256dh": p256dh,
        "auth": auth,
        "browser_hash": browser_hash(browser_token),
        "renewed_at": timezone.now(),
    }
    try:
        with transaction.atomic():
            before = PushSubscription.objects.filter(endpoint=endpoint).first()
            PushSubscription.objects.update_or_create(endpoint=endpoint, defaults=values)
            # A person's browsers are few: past the most, the least recently seen goes.
            stale = PushSubscription.objects.filter(person=person).order_by("-renewed_at")
            stale_ids = list(stale.values_list("pk", flat=True)[SUBSCRIPTIONS_PER_PERSON_MAX:])
            PushSubscription.objects.filter(pk__in=stale_ids).delete()
    except IntegrityError:  # the same browser's other tab, a moment ago
        return False
    return before is None or before.person_id != person.pk


def subscription_delete(*, person: User, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(person=person, endpoint=endpoint).delete()
    return deleted > 0


def subscriptions_logged_out(*, person_id: int, browser_token: str | None) -> None:
    """Logging out of a browser stops its notifications: the next person there is not told
    of the last one's messages."""
    if browser_token:
        PushSubscription.objects.filter(
            person_id=person_id, browser_hash=browser_hash(browser_token)
        ).delete()


def subscriptions_end_elsewhere(*, person_id: int, browser_token: str | None) -> None:
    """A new password ends the person's other sessions, and with them what their browsers
    were told: only this browser (if subscribed) is still notified."""
    theirs = PushSubscription.objects.filter(person_id=person_id)
    if browser_token:
        theirs = theirs.exclude(browser_hash=browser_hash(browser_token))
    theirs.delete()


def subscription_gone(endpoint: str) -> None:
    """The push service says this subscription ended (404 or 410): forget it."""
    PushSubscription.objects.filter(endpoint=endpoint).delete()


@dataclass(frozen=True, slots=True)
class Target:
    endpoint: str
    p256dh: str
    auth: str

    def subscription_info(self) -> dict:
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(slots=True)
class Push:
    """One notification for one person: sent to each of their browsers."""

    person_id: int
    payload: str
    urgent: bool
    targets: list[Target] = field(default_factory=list)


def _newest_ids() -> tuple[int, int]:
    """The newest message's and mention's ids."""
    return (
        Message.objects.aggregate(last=Max("id"))["last"] or 0,
        Mention.objects.aggregate(last=Max("id"))["last"] or 0,
    )


def _cursor() -> PushCursor | None:
    """The cursor, locked for this transaction; None while another worker holds it. Made
    at the newest message and mention: what was there before push was set up stays quiet."""
    if not PushCursor.objects.filter(pk=1).exists():
        try:
            with transaction.atomic():
                message_id, mention_id = _newest_ids()
                PushCursor.objects.create(pk=1, message_id=message_id, mention_id=mention_id)
        except IntegrityError:
            pass
    return PushCursor.objects.select_for_update(skip_locked=True).filter(pk=1).first()


def _turn() -> contextlib.AbstractContextManager:
    """Where workers take turns: a transaction holding the cursor's row lock. SQLite has
    one worker, and a transaction there would hold the database's one write lock (and the
    posts behind it) for the whole look: there, each statement commits on its own."""
    if connection.vendor == "sqlite":
        return contextlib.nullcontext()
    return transaction.atomic()


def _due(rows: QuerySet, after_id: int, cutoff: datetime, batch: int) -> list:
    """The rows after `after_id`, in id order, up to the first not yet due: the cursor
    never passes one it skipped."""
    due = []
    for row in rows.filter(id__gt=after_id).order_by("id")[:batch]:
        if row.created_at > cutoff:
            break
        due.append(row)
    return due


@dataclass(slots=True)
class _Due:
    message: Message
    mention: bool
    count: int = 1


STALE_AFTER = timedelta(minutes=15)  # a sender that was down does not wake anyone for old news


@dataclass(slots=True)
class Sweep:
    pushes: list[Push]
    more: bool  # a full batch: look again at once


def pushes_due(*, now: datetime | None = None, batch: int = 500) -> Sweep:
    """What has become due since the last call, to whom; the cursor moves past it (so each
    is considered once, even if sending then fails). Per person and room, one notification:
    for the latest message, or the latest that mentions them."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.CHAT_PUSH_DELAY_SECONDS)
    with _turn():
        cursor = _cursor()
        if cursor is None:
            return Sweep([], more=False)
        if not PushSubscription.objects.exists():
            # Nobody to tell: keep up with the newest, without reading what is there.
            newest = _newest_ids()
            if newest != (cursor.message_id, cursor.mention_id):
                cursor.message_id, cursor.mention_id = newest
                cursor.save(update_fields=["message_id", "mention_id"])
            return Sweep([], more=False)
        messages = _due(
            Message.objects.select_related("sender", "room"), cursor.message_id, cutoff, batch
        )
        mentions = _due(
            Mention.objects.select_related("message__sender", "message__room"),
            cursor.mention_id,
            cutoff,
            batch,
        )
        if messages:
            cursor.message_id = messages[-1].id
        if mentions:
            cursor.mention_id = mentions[-1].id
        if messages or mentions:
            cursor.save(update_fields=["message_id", "mention_id"])
        stale = cutoff - STALE_AFTER
        pushes = _pushes(
            [m for m in messages if m.created_at >= stale],
            [m for m in mentions if m.created_at >= stale],
        )
        return Sweep(pushes, more=len(messages) == batch or len(mentions) == batch)


def _pushes(messages: list[Message], mentions: list[Mention]) -> list[Push]:
    room_ids = {m.room_id for m in messages} | {m.room_id for m in mentions}
    if not room_ids:
        return []
    # Who is told of what: the members with a browser subscribed, by their level per room.
    members = {
        (membership.room_id, membership.person_id): membership
        for membership in Membership.objects.filter(
            room_id__in=room_ids,
            person__push_subscriptions__isnull=False,
            person__is_active=True,
        )
        .exclude(notify=Membership.NOTIFY_NONE)
        .select_related("person", "room")
        .distinct()
    }
    # Someone a message mentions is told by their mention (it may come in a later look).
    mentioned_in = set(
        Mention.objects.filter(message__in=messages).values_list("message_id", "person_id")
    )
    due: dict[tuple[int, int], _Due] = {}

    def consider(message: Message, person_id: int, *, mention: bool) -> None:
        membership = members.get((message.room_id, person_id))
        if (
            membership is None
            or message.deleted
            or message.sender_id == person_id
            or membership.last_read_seq >= message.seq
            or not may_enter(membership.person, private=message.room.private, member=True)
        ):
            return
        key = (person_id, message.room_id)
        before = due.get(key)
        if before is None:
            due[key] = _Due(message, mention)
            return
        before.count += 1
        # A mention outranks a plain message; among equals, the latest is shown.
        if (mention, message.seq) > (before.mention, before.message.seq):
            before.message, before.mention = message, mention

    for message in messages:
        for room_id, person_id in members:
            if room_id != message.room_id or (message.pk, person_id) in mentioned_in:
                continue
            if members[(room_id, person_id)].notify == Membership.NOTIFY_ALL:
                consider(message, person_id, mention=False)
    for mention in mentions:
        consider(mention.message, mention.person_id, mention=True)
    if not due:
        return []

    targets: dict[int, list[Target]] = defaultdict(list)
    # A browser not seen for a session's lifetime has no session left there: forget it.
    forgotten = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    PushSubscription.objects.filter(renewed_at__lt=forgotten).delete()
    for subscription in PushSubscription.objects.filter(
        person_id__in={person_id for person_id, _ in due}
    ):
        targets[subscription.person_id].append(
            Target(subscription.endpoint, subscription.p256dh, subscription.auth)
        )
    direct_people = _direct_people({r for (_, r), item in due.items() if item.message.room.direct})
    pushes = []
    for (person_id, room_id), item in due.items():
        message = item.message
        others = [name for pk, name in direct_people.get(room_id, []) if pk != person_id]
        room_name = ", ".join(others) if message.room.direct else message.room.name
        sender = message.sender.name
        if message.room.direct and others == [sender]:
            title = sender
        elif item.mention:
            title = f"{sender} mentioned you in {room_name}"
        else:
            title = f"{sender} in {room_name}"
        if item.count > 1:
            title += f" (+{item.count - 1} more)"
        text = message.text or "Sent a file"
        if len(text) > BODY_MAX_CHARS:
            text = text[: BODY_MAX_CHARS - 1] + "…"
        payload = {
            "title": title,
            "body": text,
            # The page's own notifications carry the same tag: a device shows it once.
            "tag": f"chat-{room_id}-{message.seq}",
            "url": f"/r/{room_id}/#message-{message.seq}",
            "icon": _icon(),
        }
        pushes.append(
            Push(
                person_id=person_id,
                payload=json.dumps(payload, ensure_ascii=False),
                urgent=item.mention or message.room.direct,
                targets=targets[person_id],
            )
        )
    return pushes


def _icon() -> str:
    try:
        return static("chat/icon-192.png")
    except ValueError:  # static files not collected since the icon came: a push without it
        return ""


def _direct_people(room_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    if room_ids:
        for membership in (
            Membership.objects.filter(room_id__in=room_ids)
            .select_related("person")
            .order_by("person__username")
        ):
            people[membership.room_id].append((membership.person_id, membership.person.name))
    return people
