"""What the fault engine counts with: rule counts (for ``nth``), seeded random streams and
rate-limit buckets. In this process (:class:`LocalCounters`, for the memory store), or in a
store shared by every replica and kept across restarts (:class:`StoreCounters`), so ``nth``
rules, probabilities and rate limits count over the whole cluster.

A stream named ``name`` under seed ``seed`` gives the same draws in the same order on every run:
locally one :class:`random.Random` per stream; in a store, draw number *n* comes from a
generator seeded by ``seed``, ``name`` and *n*, so replicas drawing in turn continue one
sequence.
"""

from __future__ import annotations

import random
from typing import Protocol

from ._ratelimit import BucketConfig, TokenBucket


class Counters(Protocol):
    async def count(self, name: str) -> int:
        """Count one more for ``name``; the new count."""
        ...

    async def rng(self, seed: int | str, name: str) -> random.Random:
        """The generator for the next draw of stream ``name``."""
        ...

    async def take(self, bucket: str, config: BucketConfig, now: float) -> float | None:
        """Take a token from ``bucket``: None when granted, else the seconds until one is due."""
        ...

    async def restart(self) -> None:
        """From zero: counts, streams and buckets (a new scenario or a reset)."""
        ...


class LocalCounters:
    """This process's own counts (the memory store's gateway)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._streams: dict[str, random.Random] = {}
        self._buckets: dict[str, TokenBucket] = {}

    async def count(self, name: str) -> int:
        count = self._counts.get(name, 0) + 1
        self._counts[name] = count
        return count

    async def rng(self, seed: int | str, name: str) -> random.Random:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = random.Random(f"{seed}/{name}")
        return stream

    async def take(self, bucket: str, config: BucketConfig, now: float) -> float | None:
        current = self._buckets.get(bucket)
        if current is None:
            current = self._buckets[bucket] = TokenBucket(config, now)
        return current.take_wait(now)

    async def restart(self) -> None:
        self._counts.clear()
        self._streams.clear()
        self._buckets.clear()


class CounterStore(Protocol):
    """What :class:`StoreCounters` needs of a store."""

    async def incr(self, name: str) -> int: ...

    async def take_token(
        self, bucket: str, rate: float, burst: int, now: float
    ) -> float | None: ...


class StoreCounters:
    """Counts kept in a store: shared by replicas, kept across restarts. A restart of the counts
    moves to a new generation of names (the old ones are cleared with the store's next reset)."""

    def __init__(self, store: CounterStore) -> None:
        self.store = store
        self.generation = 0

    def _name(self, kind: str, name: str) -> str:
        return f"fault/{self.generation}/{kind}/{name}"

    async def count(self, name: str) -> int:
        return await self.store.incr(self._name("count", name))

    async def rng(self, seed: int | str, name: str) -> random.Random:
        draw = await self.store.incr(self._name("draw", name))
        return random.Random(f"{seed}/{name}/{draw}")

    async def take(self, bucket: str, config: BucketConfig, now: float) -> float | None:
        return await self.store.take_token(
            self._name("bucket", bucket), config.rate, config.burst, now
        )

    async def restart(self) -> None:
        self.generation = await self.store.incr("fault/generation")
