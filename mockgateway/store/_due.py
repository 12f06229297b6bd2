"""Timed work in due order for the memory store: earliest first, and in the order it was scheduled
among work due at the same time.

Nearly all work is scheduled in due order (a job's phases come due in the order they were set, a
thousand jobs submitted together start together), so it goes in a queue that costs nothing to keep
in order; work due sooner than the newest queued (a shorter phase, a webhook retry, work given
back) goes in a heap beside it. Taking the next item compares the two heads once, where a heap
alone compares each item about twice its depth's number of times.
"""

from __future__ import annotations

import heapq
from collections import deque

from ._types import TaskKind

Entry = tuple[float, int, TaskKind, str]  # due, its order of scheduling, kind, ref


class DueQueue:
    __slots__ = ("_heap", "_in_order")

    def __init__(self) -> None:
        self._in_order: deque[Entry] = deque()  # due times never decrease along it
        self._heap: list[Entry] = []

    def __len__(self) -> int:
        return len(self._in_order) + len(self._heap)

    def push(self, entry: Entry) -> None:
        """Add work scheduled now: its order number is above every entry's already here."""
        in_order = self._in_order
        if not in_order or entry[0] >= in_order[-1][0]:
            in_order.append(entry)
        else:
            heapq.heappush(self._heap, entry)

    def push_back(self, entry: Entry) -> None:
        """Add work taken earlier and given back (its order number is an old one)."""
        heapq.heappush(self._heap, entry)

    def first_due(self) -> float | None:
        in_order, heap = self._in_order, self._heap
        if in_order and heap:
            return min(in_order[0][0], heap[0][0])
        if in_order:
            return in_order[0][0]
        return heap[0][0] if heap else None

    def take_due(self, now: float, limit: int) -> list[Entry]:
        """Up to ``limit`` entries due by ``now``, earliest first, taken out."""
        in_order, heap = self._in_order, self._heap
        taken: list[Entry] = []
        while len(taken) < limit:
            if in_order and not (heap and heap[0] < in_order[0]):
                if in_order[0][0] > now:
                    break
                taken.append(in_order.popleft())
            elif heap and heap[0][0] <= now:
                taken.append(heapq.heappop(heap))
            else:
                break
        return taken


__all__ = ["DueQueue", "Entry"]
