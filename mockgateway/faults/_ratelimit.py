"""Rate limits on the gateway clock: a token bucket per key and route, and a cap on a key's
concurrent (not yet terminal) jobs.

Both answer with the number of whole seconds to wait, which becomes both ``Retry-After`` and the
``N`` in the API-management 429 body, so the two always agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_EPSILON = 1e-6


@dataclass(frozen=True, slots=True, kw_only=True)
class BucketConfig:
    """``rate`` tokens per gateway second refill a bucket of at most ``burst`` tokens."""

    rate: float
    burst: int


class TokenBucket:
    __slots__ = ("config", "tokens", "updated")

    def __init__(self, config: BucketConfig, now: float) -> None:
        self.config = config
        self.tokens = float(config.burst)
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.config.burst), self.tokens + elapsed * self.config.rate)
        self.updated = max(self.updated, now)

    def take(self, now: float) -> int | None:
        """Take one token; None when granted, else whole seconds until one is available."""
        wait = self.take_wait(now)
        return None if wait is None else retry_after_seconds(wait)

    def take_wait(self, now: float) -> float | None:
        """Take one token; None when granted, else the seconds until one is available."""
        self._refill(now)
        if self.tokens >= 1.0 - _EPSILON:  # float noise must not deny a token that is due
            self.tokens = max(0.0, self.tokens - 1.0)
            return None
        return (1.0 - self.tokens) / self.config.rate


def retry_after_seconds(wait: float) -> int:
    """A wait as ``Retry-After`` whole seconds: rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


class RateLimiter:
    """One bucket per (key, route), made full on the key's first request to that route."""

    def __init__(self, routes: dict[str, BucketConfig]) -> None:
        self.routes = routes
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def take(self, key: str, route: str, now: float) -> int | None:
        config = self.routes.get(route)
        if config is None:
            return None
        bucket = self._buckets.get((key, route))
        if bucket is None:
            bucket = self._buckets[(key, route)] = TokenBucket(config, now)
        return bucket.take(now)

    def clear(self) -> None:
        self._buckets.clear()
