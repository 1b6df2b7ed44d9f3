"""The room socket's authentication (`scope["user"]` from the Django session cookie), and
the short way through the HTTP middleware for probes and metrics."""

from importlib import import_module

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest
from django.http.cookie import parse_cookie


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


internal_endpoints.sync_capable = False
internal_endpoints.async_capable = True
