"""Personal access tokens: made and revoked by their person (the account page), checked by
the API. A token is 32 random bytes; only its SHA-256 is stored, which is enough for a
secret that cannot be guessed (a slow hash is for passwords people choose)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from chat.models import AccessToken, User
from chat.services.log import NotFound

TOKEN_PREFIX = "chat_"
TOKENS_PER_PERSON_MAX = 20
# A token's last use is written at most this often: not a write per API call.
LAST_USED_EVERY = timedelta(minutes=1)


class TooManyTokens(Exception):
    pass


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def token_create(*, person: User, name: str) -> tuple[AccessToken, str]:
    """A new token for `person`, and its secret (shown to them once, never stored)."""
    if AccessToken.objects.filter(person=person, revoked_at__isnull=True).count() >= (
        TOKENS_PER_PERSON_MAX
    ):
        raise TooManyTokens(f"At most {TOKENS_PER_PERSON_MAX} tokens; revoke one first.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = AccessToken.objects.create(
        person=person,
        name=name.strip()[:80] or "Token",
        digest=digest_of(secret),
        prefix=secret[: len(TOKEN_PREFIX) + 6],
    )
    return token, secret


def token_revoke(*, person: User, token_id: int) -> None:
    revoked = AccessToken.objects.filter(
        pk=token_id, person=person, revoked_at__isnull=True
    ).update(revoked_at=timezone.now())
    if not revoked:
        raise NotFound("No such token.")


def person_for_token(secret: str) -> User | None:
    """Whose token this is, if it is one and not revoked (and its person is active)."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
        return None
    token = (
        AccessToken.objects.select_related("person")
        .filter(digest=digest_of(secret), revoked_at__isnull=True)
        .first()
    )
    if token is None or not token.person.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_EVERY:
        AccessToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.person
