"""Rate limits that hold across worker processes: messages per person and per address,
reads through the API (and searches) per person,
joins through the front page per person and per address, new sockets per address, log-in
attempts per account and per address.

Each limit is a sliding window counter (the `limits` library): about `amount` hits in
any `seconds`, kept as two counters per key, so a check costs the same however many hits
it allows (a moving window keeps every hit: at a benchmark's lifted limits its lists made
each post slower than the last). Over Redis (REDIS_URL or REDIS_SENTINELS) every worker
counts in the same keys, so a person cannot get around a limit by reaching several
workers; on the embedded default the counts live in this process. A check over its limit
answers how long until the next hit is allowed; it never waits and never fails the
caller: while Redis does not answer, each process counts in its own memory for a few
seconds and then asks Redis again.

The views call the synchronous `Limits`; sockets call `AsyncLimits`, which the runtime
(chat/runtime.py) makes on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass

from django.conf import settings
from limits import RateLimitItem, RateLimitItemPerSecond
from limits import strategies as sync_strategies
from limits.aio import strategies as async_strategies
from limits.aio.storage import MemoryStorage as AsyncMemoryStorage
from limits.storage import MemoryStorage, storage_from_string

log = logging.getLogger(__name__)

# After the shared store fails, count in process memory this long before asking it again:
# a Redis outage costs each hit nothing, not a connect timeout.
FALLBACK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Rule:
    name: str  # part of the key, and what logs and metrics call it
    amount: int
    seconds: int

    @property
    def item(self) -> RateLimitItem:
        return RateLimitItemPerSecond(self.amount, self.seconds)


def _rule(name: str, amount: int, per_second: float) -> Rule:
    # A burst of `amount`, then `per_second` on average: `amount` in any amount/per_second s.
    return Rule(name, max(1, amount), max(1, math.ceil(amount / per_second)))


def message_per_person() -> Rule:
    return _rule("message-person", settings.CHAT_RATE_BURST, settings.CHAT_RATE_PER_SECOND)


def message_per_address() -> Rule:
    return _rule(
        "message-address", settings.CHAT_RATE_ADDRESS_BURST, settings.CHAT_RATE_ADDRESS_PER_SECOND
    )


def join_per_person() -> Rule:
    return Rule("join-person", settings.CHAT_JOINS_PER_MINUTE, 60)


def join_per_address() -> Rule:
    return Rule("join-address", settings.CHAT_JOINS_PER_MINUTE_PER_ADDRESS, 60)


def socket_per_address() -> Rule:
    return Rule("socket-address", settings.CHAT_SOCKETS_PER_MINUTE_PER_ADDRESS, 60)


def login_per_account() -> Rule:
    window = settings.CHAT_LOGIN_WINDOW_SECONDS
    return Rule("login-account", settings.CHAT_LOGIN_ATTEMPTS_PER_ACCOUNT, window)


def login_per_address() -> Rule:
    window = settings.CHAT_LOGIN_WINDOW_SECONDS
    return Rule("login-address", settings.CHAT_LOGIN_ATTEMPTS_PER_ADDRESS, window)


def read_per_person() -> Rule:
    """The API's reads (and searches from the page): a bot polling in a loop, not a person."""
    return Rule("read-person", settings.CHAT_READS_PER_MINUTE, 60)


Check = tuple[Rule, str]  # a rule, and whom it counts (a person's id, an address)


def _key(check: Check) -> tuple[str, str]:
    rule, who = check
    return rule.name, who


def _retry_after_ms(window: tuple[int, float, int, float], rule: Rule) -> int:
    """How long until a sliding window counter allows one more hit: its count is the
    previous window's, weighted by how much of it still overlaps, plus the current one's;
    it must fall below the limit. (The library's own reset time is the sooner of the two
    windows' ends, often too soon: a client waiting that long was refused again.)"""
    previous, previous_left, current, current_left = window
    span, limit = rule.seconds, rule.amount
    if current < limit:
        # Before the current window ends, as the previous one's weight fades.
        wait = 0.0 if previous == 0 else previous_left - (limit - current) * span / previous
        wait = max(0.0, wait)
    else:
        # Only once the current window has become the previous one (its counter lives on
        # for one more span), fading in its turn.
        wait = (current_left - span) + span * (1 - limit / current)
    # A few ms of margin for rounding, but never past one window while the count is within
    # the limit (it can pass it only when two workers' checks race): a full window filled
    # at its very start is free again when it ends, and a client is never told longer.
    wait_ms = math.ceil(wait * 1000) + 5
    if current <= limit:
        wait_ms = min(wait_ms, span * 1000)
    return max(1, wait_ms)


class _Fallback:
    """When the shared store last failed, so that an outage is logged once."""

    def __init__(self) -> None:
        self.failed_at: float | None = None

    def shared_usable(self) -> bool:
        return self.failed_at is None or time.monotonic() - self.failed_at > FALLBACK_SECONDS

    def failed(self, error: Exception) -> None:
        if self.failed_at is None:
            log.warning(
                "rate limits: the shared store does not answer; counting in this process",
                extra={"error": repr(error)},
            )
        self.failed_at = time.monotonic()

    def answered(self) -> None:
        if self.failed_at is not None:
            log.info("rate limits: counting in the shared store again")
        self.failed_at = None


class Limits:
    """The limits for synchronous callers (views)."""

    def __init__(self) -> None:
        uri = settings.CHAT_LIMITS_STORAGE
        self._local = sync_strategies.SlidingWindowCounterRateLimiter(MemoryStorage())
        self._shared = (
            None
            if uri.startswith("memory")
            else sync_strategies.SlidingWindowCounterRateLimiter(
                storage_from_string(uri, **settings.CHAT_LIMITS_STORAGE_OPTIONS)
            )
        )
        self._fallback = _Fallback()

    def refused(self, *checks: Check) -> int | None:
        """Count one hit against each check; None if all allow it, else the milliseconds
        until the strictest of those that refused allows one again."""
        if self._shared is not None and self._fallback.shared_usable():
            try:
                answer = self._count(self._shared, checks)
            except Exception as error:
                self._fallback.failed(error)
            else:
                self._fallback.answered()
                return answer
        return self._count(self._local, checks)

    @staticmethod
    def _count(limiter, checks: tuple[Check, ...]) -> int | None:
        # Tested first, counted only if all allow it: a refused attempt must not use up
        # the other limits (a flooder would spend their whole address's budget).
        refused = [check for check in checks if not limiter.test(check[0].item, *_key(check))]
        if not refused:
            refused = [check for check in checks if not limiter.hit(check[0].item, *_key(check))]
        if not refused:
            return None
        return max(
            _retry_after_ms(
                limiter.storage.get_sliding_window(
                    rule.item.key_for(*_key((rule, who))), rule.seconds
                ),
                rule,
            )
            for rule, who in refused
        )


class AsyncLimits:
    """The limits for the sockets, bound to one event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        uri = settings.CHAT_LIMITS_STORAGE
        self._local = async_strategies.SlidingWindowCounterRateLimiter(AsyncMemoryStorage())
        self._shared = (
            None
            if uri.startswith("memory")
            else async_strategies.SlidingWindowCounterRateLimiter(
                storage_from_string(
                    f"async+{uri}", implementation="redispy", **settings.CHAT_LIMITS_STORAGE_OPTIONS
                )
            )
        )
        self._fallback = _Fallback()

    async def refused(self, *checks: Check) -> int | None:
        """As Limits.refused."""
        if self._shared is not None and self._fallback.shared_usable():
            try:
                answer = await self._count(self._shared, checks)
            except Exception as error:
                self._fallback.failed(error)
            else:
                self._fallback.answered()
                return answer
        return await self._count(self._local, checks)

    @staticmethod
    async def _count(limiter, checks: tuple[Check, ...]) -> int | None:
        # As Limits._count.
        refused = [c for c in checks if not await limiter.test(c[0].item, *_key(c))]
        if not refused:
            refused = [c for c in checks if not await limiter.hit(c[0].item, *_key(c))]
        if not refused:
            return None
        waits = []
        for rule, who in refused:
            key = rule.item.key_for(*_key((rule, who)))
            window = await limiter.storage.get_sliding_window(key, rule.seconds)
            waits.append(_retry_after_ms(window, rule))
        return max(waits)


_limits: Limits | None = None


def limits() -> Limits:
    global _limits
    if _limits is None:
        _limits = Limits()
    return _limits
