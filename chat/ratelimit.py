import time


class TokenBucket:
    """Allows `burst` actions at once and `per_second` after that, per connection."""

    __slots__ = ("capacity", "clock", "per_second", "tokens", "updated")

    def __init__(self, *, burst: int, per_second: float, clock=time.monotonic):
        self.capacity = float(burst)
        self.per_second = per_second
        self.tokens = float(burst)
        self.clock = clock
        self.updated = clock()

    def take(self) -> float:
        """Take one token: 0 if allowed, else the seconds until one is available."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.per_second
