"""Fixtures that return factories, so each test says what it needs."""

from __future__ import annotations

import inspect
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from chat import ratelimit, runtime
from chat.models import Room, User, name_key
from config.asgi import application

_names = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    """Against PostgreSQL (DATABASE_URL set), skip everything with the reason when the server
    cannot be reached, rather than failing on each test."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return
    import psycopg

    try:
        psycopg.connect(
            host=database["HOST"],
            port=database["PORT"] or 5432,
            user=database["USER"],
            password=database["PASSWORD"],
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL at {database['HOST']}:{database['PORT']} is not reachable: {exc}"
        for item in items:
            needs_database = item.get_closest_marker("django_db") or {
                "db",
                "transactional_db",
                "admin_client",
            } & set(item.fixturenames)
            if needs_database:
                item.add_marker(pytest.mark.skip(reason=reason.strip()))


@pytest.fixture
def user_factory(db) -> Callable[..., User]:
    def make(name: str | None = None) -> User:
        name = name or f"Person {next(_names)}"
        user = User(username=name_key(name), display_name=name)
        user.set_unusable_password()
        user.save()
        return user

    return make


@pytest.fixture
def room_factory(db) -> Callable[..., Room]:
    def make(name: str | None = None) -> Room:
        return Room.objects.create(name=name or f"Room {next(_names)}")

    return make


def logged_in(user: User | None) -> Client:
    """A browser-like test client logged in as the given user (None: logged out)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def client_for() -> Callable[[User], Client]:
    return logged_in


def session_cookie_for(user: User) -> bytes:
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.save()
    return f"sessionid={session.session_key}".encode()


EPHEMERA = frozenset({"typing", "presence"})


class RoomSocket(WebsocketCommunicator):
    """A test's socket. Typing and presence frames come and go on their own timing, so
    unless a test asks for them (`ephemera=True`) its reads pass over them."""

    def __init__(self, *args, ephemera: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.ephemera = ephemera
        self._held: list[dict] = []  # read while checking that nothing came; next to read

    def _passed_over(self, message: dict) -> bool:
        if self.ephemera or message.get("type") != "websocket.send" or not message.get("text"):
            return False
        return json.loads(message["text"]).get("type") in EPHEMERA

    async def receive_output(self, timeout=1):
        if self._held:
            return self._held.pop(0)
        while True:
            message = await super().receive_output(timeout)
            if not self._passed_over(message):
                return message

    async def receive_nothing(self, timeout=0.1, interval=0.01):
        if self._held:
            return False
        while not await super().receive_nothing(timeout, interval):
            message = await super().receive_output(timeout)
            if not self._passed_over(message):
                self._held.append(message)
                return False
        return True


@pytest.fixture
def socket_for() -> Callable[..., Awaitable[RoomSocket]]:
    """A WebSocket to a room through the real ASGI application, opened as a browser would:
    with the site's Origin and the person's session cookie."""

    async def make(
        room: Room | str,
        user: User | None = None,
        *,
        origin: bytes = b"http://localhost",
        ephemera: bool = False,
    ) -> RoomSocket:
        path = room if isinstance(room, str) else f"/ws/rooms/{room.pk}/"
        headers = [(b"host", b"localhost"), (b"origin", origin)]
        if user is not None:
            headers.append((b"cookie", await database_sync_to_async(session_cookie_for)(user)))
        return RoomSocket(application, path, headers=headers, ephemera=ephemera)

    return make


def new_client_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture(autouse=True)
def _runtime_for_async_tests(request):
    """An async test gets the chat runtime started on its event loop, as the ASGI lifespan
    starts it for a server (a socket test's consumer needs its hub, writer and limits)."""
    if inspect.iscoroutinefunction(getattr(request.node, "obj", None)):
        request.getfixturevalue("chat_runtime")


@pytest.fixture
async def chat_runtime():
    async with runtime.running() as started:
        yield started


@pytest.fixture(autouse=True)
def _fresh_rate_limits(monkeypatch):
    """Each test counts from zero: the limits of the embedded default live in the process."""
    monkeypatch.setattr(ratelimit, "_limits", None)


@pytest.fixture(autouse=True)
def _unhashed_static_files(settings, tmp_path):
    # Hashed names need `collectstatic` first; pages under test only need the URLs. Each
    # test's uploads go to a folder of its own.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "files": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files"), "base_url": None},
        },
    }


@pytest.fixture
def announcements_captured():
    """What services announce is captured, not delivered: for tests of writes that need no
    socket (`pytestmark = pytest.mark.usefixtures("announcements_captured")`)."""
    from tests.helpers import capture_events

    with capture_events():
        yield


@pytest.fixture(autouse=True)
def _no_web_push(settings, tmp_path):
    """No test sends Web Push unless it sets up a key and its own push service."""
    settings.CHAT_VAPID_PRIVATE_KEY = ""
    settings.CHAT_VAPID_KEY_FILE = tmp_path / "no-vapid-key"


@pytest.fixture(autouse=True)
def _quick_password_hashes(settings):
    # The production hasher takes about 0.3 s per password on purpose; tests check logic.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account_factory(db) -> Callable[..., User]:
    """A person with an account: a name and a password ("correct horse battery")."""

    def make(name: str | None = None, email: str = "") -> User:
        name = name or f"Person {next(_names)}"
        user = User(username=name_key(name), display_name=name, email=email)
        user.set_password(PASSWORD)
        user.save()
        return user

    return make


PASSWORD = "correct horse battery"


@pytest.fixture(scope="session", autouse=True)
def _no_connections_left_behind(django_db_setup, django_db_blocker):
    """Socket tests leave a connection open in asgiref's database thread; on PostgreSQL it
    would keep the test database from being dropped."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
