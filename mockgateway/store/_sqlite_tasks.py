"""Timed work in the state file, handed out earliest first from an in-process heap.

A task is one row from ``schedule`` until ``ack``. Claims live in this process only: the file's
one owner is the one claimer, and a task claimed and not acknowledged when it died (or closed the
file) is handed out again when the file is next opened; one whose step failed while it runs (the
file unwritable for a while) is given back with ``unclaim``.
"""

from __future__ import annotations

import heapq

from ._sqlite_tx import Database, bump
from ._types import Task, TaskKind


class TaskTable:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._heap: list[tuple[float, int, str, str]] = []  # due, id, kind, ref
        self._dead: set[int] = set()  # ids in the heap whose scheduling was rolled back
        self._claimed: dict[str, Task] = {}
        self._n: dict[str, int] = {}
        self._last_id = 0  # never reused while the file is open: a claim names its task by id

    def load(self, *, forget_claims: bool) -> None:
        if forget_claims:
            self._claimed = {}
        claimed = self._claimed
        self._last_id = max(self._last_id, self._db.one("SELECT max(id) FROM tasks"))
        self._heap = [
            (due, task_id, kind, ref)
            for due, task_id, kind, ref in self._db.execute("SELECT due, id, kind, ref FROM tasks")
            if str(task_id) not in claimed
        ]
        heapq.heapify(self._heap)
        self._dead = set()
        self._n = {"pending": len(self._heap)}

    def schedule(self, due: float, kind: TaskKind, ref: str) -> None:
        with self._db.tx() as step:
            self._last_id += 1
            task_id = self._last_id
            self._db.execute(
                "INSERT INTO tasks (id, due, kind, ref) VALUES (?, ?, ?, ?)",
                (task_id, due, kind.value, ref),
            )
            heapq.heappush(self._heap, (due, task_id, kind.value, ref))
            bump(step, self._n, "pending", 1)
            step.undo.append(lambda: self._dead.add(task_id))

    def _drop_dead(self) -> None:
        heap, dead = self._heap, self._dead
        while heap and heap[0][1] in dead:
            dead.discard(heapq.heappop(heap)[1])

    def next_due(self) -> float | None:
        self._drop_dead()
        return self._heap[0][0] if self._heap else None

    def claim_due(self, now: float, limit: int) -> list[Task]:
        heap = self._heap
        tasks: list[Task] = []
        self._drop_dead()
        while heap and heap[0][0] <= now and len(tasks) < limit:
            due, task_id, kind, ref = heapq.heappop(heap)
            task = Task(due, TaskKind(kind), ref, str(task_id))
            self._claimed[task.id] = task
            bump(None, self._n, "pending", -1)
            tasks.append(task)
            self._drop_dead()
        return tasks

    def ack(self, task: Task) -> None:
        with self._db.tx() as step:
            self._db.execute("DELETE FROM tasks WHERE id = ?", (int(task.id),))
            claimed = self._claimed.pop(task.id, None)
            if claimed is not None:
                step.undo.append(lambda: self._claimed.__setitem__(task.id, claimed))

    def unclaim(self, tasks: list[Task]) -> None:
        """Claimed tasks not acknowledged go back on the heap (their rows never left)."""
        for task in tasks:
            if self._claimed.pop(task.id, None) is not None:
                heapq.heappush(self._heap, (task.due, int(task.id), task.kind.value, task.ref))
                bump(None, self._n, "pending", 1)

    def pending(self) -> int:
        return self._n.get("pending", 0)
