"""Django settings: one file, driven by environment variables.

With nothing set it runs on the embedded defaults: SQLite under ./var and the
in-memory channel layer, in one process.
"""

import secrets
from pathlib import Path

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
VAR_DIR = Path(env.str("DJANGO_VAR_DIR", default=str(BASE_DIR / "var")))


def _local_secret_key() -> str:
    """A laptop install needs no configuration: keep a random key beside the database."""
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="") or _local_secret_key()
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "servestatic",  # its configuration checks
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "csp",
    "ninja",  # the API's documentation pages (their static files)
    "chat",
    "accounts",
]

MIDDLEWARE = [
    "chat.middleware.internal_endpoints",  # first: probes and metrics skip host checks
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",  # outside the rest, so error pages carry the policy too
    "servestatic.middleware.ServeStaticMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections leak under ASGI (each request thread keeps its own); Django's
    # pool (psycopg_pool) reuses connections instead, and needs CONN_MAX_AGE = 0.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # With the pool, this checks each connection (one empty query) as it leaves the pool:
    # after PostgreSQL comes back, the pool's old connections are dead, and without the
    # check each one failed the first write handed to it.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DATABASE_POOL_SIZE", default=10),
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite makes the file but not its folder (var/ is made otherwise only for the key).
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE takes the write lock when a transaction starts, so two writers queue
        # on the busy timeout instead of one failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # No checkpoints inside commits: the server checkpoints from a thread of its own
        # (chat/sqlite.py), and every connection checkpoints as it closes.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
        ),
    }
    # Keep the connection: closing the last connection to a WAL database checkpoints it, and
    # reopening runs the PRAGMAs again; that was a third of the server's time under load.
    # (The socket path runs its queries in one thread, so this is one connection.)
    DATABASES["default"]["CONN_MAX_AGE"] = None
    # A file, not :memory:, so that tests with concurrent writers lock as production does.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}

AUTH_USER_MODEL = "chat.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "chat:index"
LOGOUT_REDIRECT_URL = "chat:index"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# A password reset link works once, for this long.
PASSWORD_RESET_TIMEOUT = env.int("DJANGO_PASSWORD_RESET_TIMEOUT", default=2 * 60 * 60)

# Email (password resets): printed to the console unless EMAIL_URL names a server, as
# smtp://user:password@host:587 or smtp+tls://... (django-environ's email_url).
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="chat@localhost")


def redis_channel_layer(
    url: str = "",
    prefix: str = "chat",
    *,
    sentinels: list[str] | None = None,
    master_name: str = "mymaster",
    password: str | None = None,
) -> dict:
    """The channel layer that lets several worker processes, on any number of machines,
    share rooms through Redis: the one at `url`, or whichever one the Redis Sentinels at
    `sentinels` ("host:port" each) name as the master of `master_name`."""
    # redis-py's default 5 s socket timeout equals the layer's 5 s blocking read, so every
    # room subscription idle for 5 s would die with a TimeoutError; wait well past the read.
    connection = {"socket_timeout": 30, "socket_connect_timeout": 5}
    if sentinels:
        host = {
            "sentinels": [_host_and_port(sentinel) for sentinel in sentinels],
            "master_name": master_name,
            # A Sentinel answers at once or is down, and they are asked one after another:
            # move on to the next well within /readyz's 2 s.
            "sentinel_kwargs": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
            "password": password,
            **connection,
        }
    else:
        host = {"address": url, **connection}
    return {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [host],
            "prefix": prefix,
            # Each process has one channel per room, and an event carries every frame one
            # commit produced: a reader 1,000 events behind has long been replaced.
            "capacity": 1000,
            # Events are hints: one older than 30 s is better fetched from the database.
            "expiry": 30,
            # The hub re-joins its room groups every minute (realtime.py), so an hour keeps
            # live subscriptions and soon forgets a crashed process's.
            "group_expiry": 3600,
        },
    }


def _host_and_port(address: str, default_port: int = 26379) -> tuple[str, int]:
    """("10.0.0.1", 26379) from "10.0.0.1:26379", "10.0.0.1" or "[fd00::2]:26380"."""
    address = address.strip()
    host, separator, port = address.rpartition(":")
    if not separator or host.endswith(":") or (address.startswith("[") and "]" in port):
        return address.strip("[]"), default_port
    return host.strip("[]"), int(port)


def redis_limits_storage(
    url: str = "",
    prefix: str = "chat",
    *,
    sentinels: list[str] | None = None,
    master_name: str = "mymaster",
    password: str | None = None,
) -> tuple[str, dict]:
    """Where the rate limits count (chat/ratelimit.py), as the `limits` library names it:
    the same Redis as the channel layer, so that every worker counts in the same keys."""
    # A limit must never hold a message up for long: a Redis that does not answer at once
    # is treated as away (each process counts alone for a few seconds).
    options: dict = {
        "key_prefix": f"{prefix}:limits",
        "socket_timeout": 0.5,
        "socket_connect_timeout": 0.5,
    }
    if not sentinels:
        return url, options
    addresses = [_host_and_port(sentinel) for sentinel in sentinels]
    hosts = ",".join(f"[{h}]:{p}" if ":" in h else f"{h}:{p}" for h, p in addresses)
    options.update(
        use_replicas=False,  # counts are read back from the master they were written to
        sentinel_kwargs={"socket_timeout": 0.5, "socket_connect_timeout": 0.5},
    )
    if password:
        options["password"] = password
    return f"redis+sentinel://{hosts}/{master_name}", options


REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SENTINELS = env.list("REDIS_SENTINELS", default=[])
if REDIS_URL or REDIS_SENTINELS:
    _redis = {
        "prefix": env.str("CHANNELS_REDIS_PREFIX", default="chat"),
        "sentinels": REDIS_SENTINELS,
        "master_name": env.str("REDIS_SENTINEL_MASTER", default="mymaster"),
        "password": env.str("REDIS_PASSWORD", default="") or None,
    }
    CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL, **_redis)}
    CHAT_LIMITS_STORAGE, CHAT_LIMITS_STORAGE_OPTIONS = redis_limits_storage(REDIS_URL, **_redis)
else:
    CHAT_LIMITS_STORAGE, CHAT_LIMITS_STORAGE_OPTIONS = "memory://", {}
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels.layers.InMemoryChannelLayer",
            # One process: the hub hands events to its sockets directly, and the layer
            # carries nothing but management commands' announcements.
            "CONFIG": {"capacity": 1000},
        },
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Uploaded files: on this machine's disk under var/ by default, or in any S3-compatible
# store (django-storages) when DJANGO_FILES_S3_BUCKET is set. They are never served by the
# store itself: every download passes the room's access check (chat.views.attachment).
FILES_S3_BUCKET = env.str("DJANGO_FILES_S3_BUCKET", default="")
if FILES_S3_BUCKET:
    _files_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": FILES_S3_BUCKET,
            "endpoint_url": env.str("DJANGO_FILES_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("DJANGO_FILES_S3_REGION", default="") or None,
            "access_key": env.str("DJANGO_FILES_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("DJANGO_FILES_S3_SECRET_ACCESS_KEY", default="") or None,
            "location": env.str("DJANGO_FILES_S3_PREFIX", default="files"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    _files_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "files"), "base_url": None},
    }
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "files": _files_storage,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "chat.storage.HashedStaticFilesStorage",
    },
}
# In DEBUG, serve straight from the apps' static folders, so edits show on reload.
SERVESTATIC_USE_FINDERS = DEBUG
SERVESTATIC_AUTOREFRESH = DEBUG

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Behind HTTPS (DJANGO_HTTPS=1, with the proxy setting X-Forwarded-Proto): secure cookies,
# redirects to HTTPS and HSTS. With these and DEBUG off, `check --deploy` is clean.
HTTPS = env.bool("DJANGO_HTTPS", default=False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31_536_000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=HTTPS)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=HTTPS)
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"

# Content-Security-Policy on every page (django-csp: maintained, and it lets a view tighten
# or loosen the policy for itself, which served files will need). Scripts and styles come
# only from the site's own static files: no inline script or style, no eval. The page's
# data reaches its scripts through json_script, which is data, not script. 'self' in
# connect-src also allows ws: and wss: to this same host and port.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "worker-src": [SELF],  # the service worker that shows Web Push notifications
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

SESSION_COOKIE_AGE = 60 * 60 * 24 * 365  # a guest keeps their name for a year in this browser

# The chat's own limits.
CHAT_MESSAGE_MAX_CHARS = 4000
CHAT_FRAME_MAX_BYTES = 64 * 1024
CHAT_HISTORY_PAGE_SIZE = 50
# The API's long poll on a room's events waits at most this long for the next one.
CHAT_API_WAIT_MAX_SECONDS = env.float("CHAT_API_WAIT_MAX_SECONDS", default=25.0)
# Files: per file, and per person per hour (count and bytes); 10 per message (the wire's).
CHAT_FILE_MAX_BYTES = env.int("CHAT_FILE_MAX_BYTES", default=25 * 1024 * 1024)
CHAT_UPLOADS_PER_HOUR = env.int("CHAT_UPLOADS_PER_HOUR", default=100)
CHAT_UPLOAD_BYTES_PER_HOUR = env.int("CHAT_UPLOAD_BYTES_PER_HOUR", default=500 * 1024 * 1024)
# Images of more pixels are refused: decoding one costs memory by its pixels, whatever its
# compressed size (a "decompression bomb" is a few kilobytes claiming gigapixels).
CHAT_IMAGE_MAX_PIXELS = env.int("CHAT_IMAGE_MAX_PIXELS", default=50_000_000)
CHAT_THUMBNAIL_MAX_PX = 480
# An upload no message took within this time is deleted (the composer was closed).
CHAT_UPLOAD_UNSENT_HOURS = 24
# Events in one answer to `sync`; a client further behind than CHAT_RESYNC_MAX is told to
# reset (reload its latest page) rather than replay them all.
CHAT_CATCH_UP_MAX = 500
CHAT_RESYNC_MAX = 1000
# Different emoji one message can carry.
CHAT_REACTIONS_PER_MESSAGE_MAX = 20
# People in one direct conversation, its starter included.
CHAT_DIRECT_MAX_PEOPLE = 8

# Web Push: on when a VAPID key is set, in the environment (one line of base64url, as
# `manage.py webpush_keys` prints it) or in the key file that command writes.
CHAT_VAPID_PRIVATE_KEY = env.str("CHAT_VAPID_PRIVATE_KEY", default="")
CHAT_VAPID_KEY_FILE = VAR_DIR / "vapid_private_key"
# Who push services contact about this server's notifications.
CHAT_VAPID_SUBJECT = env.str("CHAT_VAPID_SUBJECT", default=f"mailto:{DEFAULT_FROM_EMAIL}")
# A notification waits this long, and is not sent if its message was read or deleted.
CHAT_PUSH_DELAY_SECONDS = env.float("CHAT_PUSH_DELAY_SECONDS", default=5.0)
CHAT_PUSH_POLL_SECONDS = env.float("CHAT_PUSH_POLL_SECONDS", default=1.0)
# Whether this process runs a sender (every worker may; they take turns by a row lock).
CHAT_PUSH_SEND = env.bool("CHAT_PUSH_SEND", default=True)
# The push services browsers subscribe with (a host or any host under it): the server
# POSTs only there. "*" allows any public host.
CHAT_PUSH_SERVICE_HOSTS = env.list(
    "CHAT_PUSH_SERVICE_HOSTS",
    default=[
        "fcm.googleapis.com",  # Chrome, Edge on Android, Opera, Samsung Internet
        "push.services.mozilla.com",  # Firefox
        "notify.windows.com",  # Edge on Windows
        "push.apple.com",  # Safari
    ],
)
# Endpoints on plain http:// or private addresses: only for a test's own push service.
CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS = env.bool("CHAT_PUSH_ALLOW_INSECURE_ENDPOINTS", default=False)
# Typing is not relayed in rooms with more people here than this: it would be noise.
CHAT_TYPING_MAX_PEOPLE = 100
# Frames queued for a client that has stopped reading, beyond what the server's transport
# buffers; past this its socket is closed (1013) and it catches up when it returns.
CHAT_SOCKET_BACKLOG = env.int("CHAT_SOCKET_BACKLOG", default=1000)
# Rate limits (chat/ratelimit.py), shared by all workers through Redis when it is set.
# A person types a few messages a second at most; a burst allows pasting several lines.
CHAT_RATE_BURST = env.int("CHAT_RATE_BURST", default=20)
CHAT_RATE_PER_SECOND = env.float("CHAT_RATE_PER_SECOND", default=5.0)
# One address may be a whole office behind one router: ten busy people at once.
CHAT_RATE_ADDRESS_BURST = env.int("CHAT_RATE_ADDRESS_BURST", default=200)
CHAT_RATE_ADDRESS_PER_SECOND = env.float("CHAT_RATE_ADDRESS_PER_SECOND", default=50.0)
# Joins through the front page (each may make a guest and a room).
CHAT_JOINS_PER_MINUTE = env.int("CHAT_JOINS_PER_MINUTE", default=10)
CHAT_JOINS_PER_MINUTE_PER_ADDRESS = env.int("CHAT_JOINS_PER_MINUTE_PER_ADDRESS", default=60)
# New sockets: every open tab reconnects once after a worker restarts.
# API calls that read (history, events, search) and searches from the page, per person.
CHAT_READS_PER_MINUTE = env.int("CHAT_READS_PER_MINUTE", default=600)
CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS = env.int("CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS", default=300)
# Log-in attempts (each counted before its password is checked): a guesser is slowed per
# account and per address; the real owner waits at most one window (minutes), never more.
CHAT_LOGIN_ATTEMPTS_PER_ACCOUNT = env.int("CHAT_LOGIN_ATTEMPTS_PER_ACCOUNT", default=10)
CHAT_LOGIN_ATTEMPTS_PER_ADDRESS = env.int("CHAT_LOGIN_ATTEMPTS_PER_ADDRESS", default=50)
CHAT_LOGIN_WINDOW_SECONDS = env.int("CHAT_LOGIN_WINDOW_SECONDS", default=300)

# One line per event. JSON for log collectors (the default with DEBUG off), key=value for
# a terminal; every line made while handling a socket carries its connection id (chat/logs.py).
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "connection_id": {"()": "chat.logs.ConnectionIdFilter"},
        "skip_server_connection_lines": {"()": "chat.logs.SkipServerConnectionLines"},
        "calm_client_faults": {"()": "chat.logs.CalmClientFaults"},
    },
    "formatters": {
        "json": {"()": "chat.logs.JsonLogFormatter"},
        "text": {
            "()": "chat.logs.KeyValueFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["connection_id", "skip_server_connection_lines", "calm_client_faults"],
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "chat": {"level": env.str("CHAT_LOG_LEVEL", default="INFO")},
        # The server's own lines (start, stop, errors in a connection) in the same format, at
        # the level its --log-level gave. Its access log stays as its flags left it (the
        # proxy logs requests; `make serve` turns it off).
        "uvicorn.error": {"handlers": ["console"], "propagate": False},
    },
}
