"""Sending Web Push: this server's VAPID key, and the sender thread each worker runs.

The sender looks every CHAT_PUSH_POLL_SECONDS for notifications that have become due
(chat.services.push decides what and to whom) and POSTs each, encrypted for its browser
(aes128gcm), to the browser's push service with pywebpush. It runs in a thread of its own,
off the event loop and off the writer's thread: push services answer in tens to hundreds of
milliseconds, and nothing a socket waits for should wait behind them.
"""

from __future__ import annotations

import base64
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import cache

import requests
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.db import close_old_connections
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from chat.services import push as services

log = logging.getLogger(__name__)

TTL_SECONDS = 60 * 60  # a chat notification an hour late is noise
TIMEOUT_SECONDS = 10


def new_private_key() -> str:
    """A new VAPID private key, as the one line CHAT_VAPID_PRIVATE_KEY holds (base64url of
    the raw 32-byte P-256 scalar)."""
    vapid = Vapid()
    vapid.generate_keys()
    number = vapid.private_key.private_numbers().private_value
    return _b64url(number.to_bytes(32, "big"))


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def configured_private_key() -> str | None:
    """From the environment, else from the key file `manage.py webpush_keys` writes."""
    if settings.CHAT_VAPID_PRIVATE_KEY:
        return settings.CHAT_VAPID_PRIVATE_KEY.strip()
    path = settings.CHAT_VAPID_KEY_FILE
    if path.exists():
        return path.read_text().strip() or None
    return None


@cache
def _vapid(private_key: str) -> Vapid:
    return Vapid.from_string(private_key)


def vapid() -> Vapid | None:
    """This server's VAPID key, or None when Web Push is not set up."""
    private_key = configured_private_key()
    return _vapid(private_key) if private_key else None


def public_key() -> str | None:
    """The applicationServerKey the page subscribes with (base64url, uncompressed point)."""
    key = vapid()
    if key is None:
        return None
    return _b64url(
        key.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def send(push: services.Push, key: Vapid, session: requests.Session) -> int:
    """POST one notification to each of its person's browsers; the number delivered. A
    subscription the push service says is gone (404, 410) is forgotten."""
    delivered = 0
    for target in push.targets:
        service_host = services.push_service_host(target.endpoint)
        try:
            webpush(
                target.subscription_info(),
                push.payload,
                vapid_private_key=key,
                # A fresh dict each time: pywebpush writes the audience into it.
                vapid_claims={"sub": settings.CHAT_VAPID_SUBJECT},
                ttl=TTL_SECONDS,
                timeout=TIMEOUT_SECONDS,
                headers={"Urgency": "high" if push.urgent else "normal"},
                requests_session=session,
            )
            delivered += 1
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in (404, 410):
                services.subscription_gone(target.endpoint)
                log.info("push subscription gone (%s), forgotten", status)
            else:
                log.warning("push refused by %s: %s", service_host, status)
        except requests.RequestException as error:
            log.warning("push to %s failed: %s", service_host, type(error).__name__)
        except Exception:  # one odd subscription must not cost the others theirs
            log.warning("push to %s failed", service_host, exc_info=True)
    return delivered


def push_session() -> requests.Session:
    """An HTTP session that never follows a redirect: a push service answers, it does not
    send the server elsewhere (a redirect is a failed push)."""
    session = requests.Session()
    session.max_redirects = 0
    return session


def sweep(
    key: Vapid,
    session: requests.Session,
    pool: ThreadPoolExecutor | None = None,
    *,
    now: datetime | None = None,
    stopping: threading.Event | None = None,
) -> int:
    """Send what is due now; the number of notifications delivered."""
    delivered, more = 0, True
    while more and not (stopping and stopping.is_set()):
        due = services.pushes_due(now=now)
        more = due.more
        if pool is None:
            delivered += sum(send(push, key, session) for push in due.pushes)
        else:
            delivered += sum(pool.map(lambda push: _send_in_pool(push, key), due.pushes))
    return delivered


_sessions = threading.local()


def _send_in_pool(push: services.Push, key: Vapid) -> int:
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = push_session()
    try:
        return send(push, key, session)
    finally:
        close_old_connections()


class PushSender:
    """The worker's sender thread: started with the runtime when a VAPID key is set up."""

    def __init__(self, key: Vapid) -> None:
        self.key = key
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="push-sender", daemon=True)
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="push")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT_SECONDS + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        session = push_session()
        failing = False
        while not self._stop.wait(settings.CHAT_PUSH_POLL_SECONDS):
            try:
                close_old_connections()
                sweep(self.key, session, self._pool, stopping=self._stop)
                if failing:
                    log.info("push sender is working again")
                failing = False
            except Exception:
                # The database away, say: one line when it starts, then quiet until it works.
                if not failing:
                    log.warning("push sender cannot look for notifications", exc_info=True)
                failing = True
            finally:
                close_old_connections()
