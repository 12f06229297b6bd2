"""Transactions over the state file: a step's, or a lone write's own, and undoing in-process
mirrors when one fails.

A step (``atomic()``) is one transaction, begun at its first write and committed when it exits;
steps run one at a time (a lock), a step inside a step is part of it. A write outside any step is
a transaction of its own, committed before the write returns. A write made while another task's
step has its transaction open joins that transaction. Each part of the store keeps mirrors of
what the file holds; a write records how to undo its change to them, and a failed transaction
runs those undos after rolling the file back (or, after a reset, rebuilds every mirror).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from ._sqlite_file import SETTING
from ._types import StoreUnavailable

_STEP: contextvars.ContextVar[Step | None] = contextvars.ContextVar("sqlite_step", default=None)


class Step:
    """One transaction under way and how to undo its changes to the mirrors."""

    __slots__ = ("begun", "reload", "undo")

    def __init__(self) -> None:
        self.begun = False
        self.undo: list[Callable[[], object]] = []
        self.reload = False  # undone by rebuilding every mirror from the file (after a reset)


def bump(step: Step | None, counts: dict[Any, int], name: Any, delta: int) -> None:
    """Count ``name`` up by ``delta`` (a count of 0 is dropped), undone with ``step``."""
    n = counts.get(name, 0) + delta
    if n:
        counts[name] = n
    else:
        counts.pop(name, None)
    if step is not None:
        step.undo.append(lambda: bump(None, counts, name, -delta))


def restore(step: Step, mapping: dict[Any, Any], name: Any) -> None:
    """Before changing ``mapping[name]``: undone by putting back what it is now."""
    old = mapping.get(name)
    if old is None:
        step.undo.append(lambda: mapping.pop(name, None))
    else:
        step.undo.append(lambda: mapping.__setitem__(name, old))


class Database:
    """The connection, the step under way and the transactions writes go into."""

    def __init__(self, path: str, reload: Callable[[], None], after_step: Callable[[], None]):
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.step: Step | None = None
        self._lock: asyncio.Lock | None = None  # made on first use, in the running loop
        self._reload = reload  # rebuild every mirror from the file
        self._after_step = after_step  # what waits for a step to end (journal entries)
        # why the last write failed, until a write goes through again (a full disk, say)
        self.write_failed: str | None = None

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self._run(lambda conn: conn.execute(sql, params))

    def executemany(self, sql: str, rows: Iterable[Any]) -> sqlite3.Cursor:
        return self._run(lambda conn: conn.executemany(sql, rows))

    def _run(self, call: Callable[[sqlite3.Connection], sqlite3.Cursor]) -> sqlite3.Cursor:
        conn = self.conn
        if conn is None:
            raise StoreUnavailable(f"{SETTING}: the state file {self.path!r} is not open")
        writing = conn.in_transaction  # (a failed COMMIT may have rolled back already)
        try:
            return call(conn)
        except sqlite3.OperationalError as exc:  # disk full, I/O error, file gone
            if writing or conn.in_transaction:  # a write, or its commit, failed
                self.write_failed = str(exc)
            raise StoreUnavailable(f"{SETTING}: {exc}") from exc

    def one(self, sql: str) -> int:
        return int(self.execute(sql).fetchone()[0] or 0)

    def in_step(self) -> Step | None:
        """The step a write now goes into: this task's, or any whose transaction is open."""
        step = self.step
        if step is not None and (step.begun or _STEP.get() is step):
            return step
        return None

    @property
    def transaction_open(self) -> bool:
        return self.step is not None and self.step.begun

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        current = self.step
        if current is not None and _STEP.get() is current:
            yield  # a step inside a step is part of it
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            step = self.step = Step()
            token = _STEP.set(step)
            try:
                yield
            except BaseException:
                self.rollback(step)
                raise
            else:
                if step.begun:
                    self._commit(step, "a step")
            finally:
                self.step = None
                _STEP.reset(token)
                self._after_step()

    @contextlib.contextmanager
    def tx(self) -> Iterator[Step]:
        """The transaction a write goes into: the step's (see :meth:`in_step`), else one of its
        own, committed before the write returns."""
        step = self.in_step()
        if step is not None:
            if not step.begun:
                self.execute("BEGIN")
                step.begun = True
            yield step
            return
        with self.own_tx() as own:
            yield own

    @contextlib.contextmanager
    def own_tx(self) -> Iterator[Step]:
        """A transaction of its own, committed before the write returns (none may be open)."""
        own = Step()
        self.execute("BEGIN")
        own.begun = True
        try:
            yield own
        except BaseException:
            self.rollback(own)
            raise
        self._commit(own, "a write")

    def _commit(self, step: Step, what: str) -> None:
        try:
            self.execute("COMMIT")
        except StoreUnavailable as exc:
            self.rollback(step)
            cause = exc.__cause__ or exc
            raise StoreUnavailable(f"{SETTING}: {what} was not stored: {cause}") from exc
        self.write_failed = None

    def rollback(self, step: Step) -> None:
        if step.begun and self.conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
        if step.reload:
            self._reload()
            return
        for undo in reversed(step.undo):
            undo()
