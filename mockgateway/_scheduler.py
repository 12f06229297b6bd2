"""One scheduler for all timed work, driven by the gateway clock.

Pending work is a heap entry each (not an asyncio task each), so 100,000 queued jobs cost
100,000 tuples. :meth:`Scheduler.run_due` is pure and synchronous: tests drive it directly with a
:class:`~mockgateway._clock.ManualClock`. :meth:`Scheduler.run_forever` is the asyncio driver the
server uses; it sleeps until the earliest entry is due (in real time, per the clock) and wakes early
when an earlier entry is added or the manual clock moves.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ._clock import Clock, ManualClock

log = logging.getLogger("mockgateway.scheduler")


@dataclass(order=True, slots=True)
class _Entry:
    due: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class Handle:
    """Cancels one scheduled action."""

    __slots__ = ("_entry",)

    def __init__(self, entry: _Entry) -> None:
        self._entry = entry

    @property
    def due(self) -> float:
        return self._entry.due

    def cancel(self) -> None:
        self._entry.cancelled = True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[_Entry] = []
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._sleepers: set[asyncio.Future[None]] = set()
        if isinstance(clock, ManualClock):
            clock.on_change(self._poke)

    def __len__(self) -> int:
        return sum(1 for e in self._heap if not e.cancelled)

    def call_at(self, due: float, action: Callable[[], None]) -> Handle:
        entry = _Entry(due, next(self._seq), action)
        heapq.heappush(self._heap, entry)
        if self._heap[0] is entry:
            self._poke()
        return Handle(entry)

    def call_later(self, delay: float, action: Callable[[], None]) -> Handle:
        return self.call_at(self.clock.now() + max(0.0, delay), action)

    def next_due(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].due if self._heap else None

    def run_due(self) -> int:
        """Run every action due by now in due order (actions may add more); return the count."""
        ran = 0
        while True:
            due = self.next_due()
            if due is None or due > self.clock.now():
                return ran
            entry = heapq.heappop(self._heap)
            try:
                entry.action()
            except Exception:  # one faulty action must not stop the gateway's time
                log.exception("scheduled action failed")
            ran += 1

    def sleep(self, seconds: float) -> asyncio.Future[None]:
        """A future resolved after ``seconds`` of clock time, by an entry on this scheduler.

        Response latency and dribbled bodies wait on this, so a scaled clock scales them and a
        manual clock holds them until it is advanced.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.add(future)
        handle = self.call_later(seconds, lambda: _resolve(future))

        def done(f: asyncio.Future[None]) -> None:
            self._sleepers.discard(f)
            handle.cancel()

        future.add_done_callback(done)
        return future

    @property
    def sleeping(self) -> int:
        """How many :meth:`sleep` futures are pending."""
        return len(self._sleepers)

    def clear(self) -> None:
        """Drop every entry; pending sleeps end now rather than never."""
        self._heap.clear()
        for future in list(self._sleepers):
            _resolve(future)

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run_forever(self) -> None:
        self._wake = asyncio.Event()
        while True:
            self.run_due()
            due = self.next_due()
            wait: float | None = None
            if due is not None:
                wait = self.clock.real_delay(due - self.clock.now())
            self._wake.clear()
            if wait is None:
                await self._wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)
