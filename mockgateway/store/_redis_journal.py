"""The Redis store's journal: appended on the request's hot path without a round trip, written by
one background task per process, read back from Redis so every replica's traffic is seen.

``append`` only queues the builder and its pieces. The writer builds each entry, serialises it
and pushes a batch with one script that numbers the entries from the shared counter as it pushes
them, so the list is one order for the whole cluster and seqs match it. An entry reaches Redis one
round trip after the batch before it (a millisecond or two on loopback); while Redis is away the
queue waits, bounded at ``max_entries`` (the oldest queued are lost, their seqs skipped, and
counted in ``dropped``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from .._journal import Builder, JournalEntry
from ._redis_lua import JOURNAL_CLEAR, JOURNAL_PUSH, JOURNAL_READ, JOURNAL_STATS
from ._types import JournalStats, StoreUnavailable

log = logging.getLogger("mockgateway.store")

BATCH = 256


def encode_entry(entry: JournalEntry) -> str:
    data = entry.to_dict()
    del data["seq"]  # given by the push script
    return json.dumps(data, separators=(",", ":"), default=str)


def decode_entry(raw: bytes) -> JournalEntry:
    seq, _, text = raw.partition(b"\t")
    data = json.loads(text)
    data["seq"] = int(seq)
    return JournalEntry.from_dict(data)


class JournalWriter:
    def __init__(
        self, redis: Redis, prefix: str, *, enabled: bool, max_entries: int, max_bytes: int
    ) -> None:
        self.enabled = enabled
        self._prefix = prefix
        self._max_entries = max(1, max_entries)
        self._max_bytes = max_bytes
        self._queue: deque[tuple[Builder, tuple[Any, ...]]] = deque()
        self._ready: list[str] = []  # built, not yet pushed
        self._lost = 0  # dropped from a full queue, their seqs not yet skipped in Redis
        self._appended = 0  # entries handed to append (or lost) so far
        self._done = 0  # of those, pushed or lost
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._busy = asyncio.Lock()  # a push and a clear never overlap
        self._task: asyncio.Task[None] | None = None
        self._push = redis.register_script(JOURNAL_PUSH)
        self._read = redis.register_script(JOURNAL_READ)
        self._stats = redis.register_script(JOURNAL_STATS)
        self._clear = redis.register_script(JOURNAL_CLEAR)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mockgateway-journal-writer")

    async def stop(self, timeout: float = 1.0) -> None:
        """Push what is queued (for up to ``timeout``), then stop the writer."""
        with contextlib.suppress(StoreUnavailable):
            await self.flush(timeout)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # hot path ---------------------------------------------------------------------------------

    def append(self, build: Builder, pieces: tuple[Any, ...]) -> None:
        if not self.enabled:
            return
        queue = self._queue
        if len(queue) + len(self._ready) >= self._max_entries:
            if queue:
                queue.popleft()
            else:
                self._ready.pop(0)
            self._lost += 1
            self._done += 1
        queue.append((build, pieces))
        self._appended += 1
        self._wake.set()

    # the writer -------------------------------------------------------------------------------

    async def _run(self) -> None:
        pause = 0.02
        while True:
            if not self._queue and not self._ready and not self._lost:
                self._wake.clear()
                await self._wake.wait()
            try:
                async with self._busy:
                    await self._write_batch()
                pause = 0.02
                progress, self._progress = self._progress, asyncio.Event()
                progress.set()
            except (RedisError, OSError) as error:
                log.debug("journal writer waits for Redis: %s", error)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)

    async def _write_batch(self) -> None:
        ready, queue = self._ready, self._queue
        while queue and len(ready) < BATCH:
            build, pieces = queue.popleft()
            try:
                ready.append(encode_entry(build(0, *pieces)))
            except Exception:
                log.exception("a journal entry could not be built; it is left out")
                self._done += 1
        if not ready and not self._lost:
            return
        lost = self._lost
        await self._push(
            args=[self._prefix, self._max_entries, self._max_bytes, lost, *ready],
        )
        self._lost -= lost
        self._done += len(ready)
        ready.clear()

    async def flush(self, timeout: float) -> None:
        """Wait until what this process appended so far is in Redis."""
        target = self._appended
        deadline = time.monotonic() + timeout
        while self._done < target:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._task is None:
                raise StoreUnavailable("the journal could not be written to Redis")
            progress = self._progress
            self._wake.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), remaining)

    # reads and clearing -----------------------------------------------------------------------

    async def entries(self, since: int, limit: int | None, timeout: float) -> list[JournalEntry]:
        await self.flush(timeout)
        rows = await self._read(args=[self._prefix, since, -1 if limit is None else limit])
        return [decode_entry(row) for row in rows]

    async def stats(self, timeout: float) -> JournalStats:
        await self.flush(timeout)
        kept, first, size, last, given = await self._stats(args=[self._prefix])
        # every seq given since the last clear is an entry kept, pushed out by the bound, or lost
        # from a full queue while Redis was away (its seq skipped)
        dropped = int(given) - int(first) + 1 - int(kept)
        return JournalStats(int(kept), max(0, dropped), int(size), int(last))

    def _drop_local(self) -> None:
        self._done += len(self._queue) + len(self._ready)
        self._queue.clear()
        self._ready.clear()
        self._lost = 0

    async def clear(self) -> None:
        await self.clear_with(lambda: self._clear(args=[self._prefix]))

    async def clear_with(self, run: Callable[[], Awaitable[Any]]) -> None:
        """Forget this process's queued entries and run ``run`` (which clears Redis's) with no
        push in between."""
        async with self._busy:
            self._drop_local()
            await run()
