"""The room socket's gates (same origin; `scope["user"]` from the Django session cookie),
and the short way through the HTTP middleware for probes and metrics."""

from importlib import import_module
from urllib.parse import urlsplit

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


class SameOriginOnly:
    """Lets a socket in only from a page of this site, as a browser names it in `Origin`:
    the same scheme, host and port as the socket's own (its Host header, which must be an
    allowed host), or exactly one of CSRF_TRUSTED_ORIGINS. Channels' own validator compares
    host names only, so a page on any port of an allowed host could open sockets here.
    Refused sockets get an HTTP 403 instead of the handshake."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if is_same_origin(scope):
            return await self.app(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)


def is_same_origin(scope) -> bool:
    headers = dict(scope.get("headers", ()))
    try:
        origin = headers[b"origin"].decode("ascii")
        host = headers[b"host"].decode("ascii")
    except (KeyError, UnicodeDecodeError):
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    allowed_hosts = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's get_host
    domain, port = split_domain_port(host)
    if not domain or not validate_host(domain, allowed_hosts):
        return False
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    try:
        parsed = urlsplit(origin)
        origin_port = parsed.port or DEFAULT_PORTS.get(parsed.scheme)
    except ValueError:  # a port that is not a number
        return False
    return (
        parsed.scheme == scheme
        and parsed.hostname is not None
        and parsed.hostname == domain.strip("[]")
        and origin_port == (int(port) if port else DEFAULT_PORTS[scheme])
    )


class SessionAuthMiddleware:
    """Puts the session's user in `scope["user"]`, as Channels' AuthMiddlewareStack does.

    It asks Django itself (`django.contrib.auth.get_user`, on the configured session
    store), so a socket is authenticated exactly as a page request is: the same session,
    the same backend, the same check that the password has not changed since. Unlike the
    stack, it keeps nothing for the connection's lifetime but the user (no session object,
    cookie dict or three middleware frames per socket, about a tenth of a connection's
    memory), and it leaves `send` unwrapped, so frames go straight to the server.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
        user = await _user_for_session(session_key) if session_key else AnonymousUser()
        return await self.app({**scope, "user": user}, receive, send)


def _cookie(scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            return parse_cookie(value.decode("latin-1")).get(name)
    return None


@database_sync_to_async
def _user_for_session(session_key: str):
    request = HttpRequest()  # get_user reads only request.session
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return auth.get_user(request)


def internal_endpoints(get_response):
    """Answers /healthz, /readyz and /metrics ahead of every other middleware. Probes and
    the metrics scraper come from inside (a container's own check, a load balancer or
    Prometheus by address), not through the public host name, so they must not meet the
    allowed-hosts check (400) or the HTTPS redirect (301). Keep them from the public at the
    proxy (deploy/nginx.conf)."""
    from chat import views

    endpoints = {
        "/healthz": views.healthz,
        "/readyz": views.readyz,
        "/metrics": sync_to_async(views.metrics_page),
    }

    async def middleware(request: HttpRequest):
        endpoint = endpoints.get(request.path_info)
        if endpoint is not None:
            return await endpoint(request)
        return await get_response(request)

    return middleware


internal_endpoints.sync_capable = False  # type: ignore[attr-defined]
internal_endpoints.async_capable = True  # type: ignore[attr-defined]


class BodyLimit:
    """Refuses an HTTP request whose body is larger than the largest upload allows, before
    anything reads it: Django's ASGI handler would first copy the whole body to a
    temporary file, however large. A body that does not say its length and runs past the
    limit is cut off (the client sees the connection end)."""

    def __init__(self, app, *, max_bytes: int | None = None):
        self.app = app
        # The largest file, plus the form's own fields and boundaries.
        self.max_bytes = max_bytes or settings.CHAT_FILE_MAX_BYTES + 256 * 1024

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers", ())).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                declared = self.max_bytes + 1
            if declared > self.max_bytes:
                return await self._too_large(send)
            return await self.app(scope, receive, send)
        seen = 0

        async def counted_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted_receive, send)

    async def _too_large(self, send) -> None:
        limit_mb = settings.CHAT_FILE_MAX_BYTES / (1024 * 1024)
        body = (
            b'{"error": "file_too_large", "stored": false, "detail": "A file is limited to '
            + f"{limit_mb:.1f} MB".encode()
            + b'."}'
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
