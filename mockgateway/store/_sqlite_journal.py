"""The journal in the state file: bounded in entries and bytes as the in-memory one is.

An entry is built when it is recorded (its pieces are live objects of one request) and committed
by ``append`` itself; one recorded while a step's transaction is open waits for that step to end
and is committed right after it, whether the step commits or not: the journal records what was
answered. The bookkeeping (each kept entry's number and weight) is mirrored in-process.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from .._journal import ENTRY_OVERHEAD, Builder, JournalEntry
from ._sqlite_tx import Database, Step
from ._types import JournalStats, StoreUnavailable

log = logging.getLogger(__name__)

_FIELDS = tuple(JournalEntry.__dataclass_fields__)
_INSERT = "INSERT INTO journal (seq, size, data) VALUES (?, ?, ?)"


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


class JournalTable:
    def __init__(self, db: Database, max_entries: int, max_bytes: int) -> None:
        self._db = db
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._later: list[tuple[int, int, str, int]] = []  # seq, size, data, cut
        self._sizes: deque[tuple[int, int]] = deque()  # (seq, weight) of each entry kept
        self._bytes = 0
        self._seq = 0  # the last number given
        self._first = 1  # the first number since the last clear
        self._lost = 0  # entries not stored since the last one that was

    def load(self) -> None:
        db = self._db
        state = dict(db.execute("SELECT name, value FROM state"))
        self._sizes = deque(db.execute("SELECT seq, size FROM journal ORDER BY seq"))
        self._bytes = sum(size for _, size in self._sizes)
        self._first = state.get("journal_first", 1)
        last = self._sizes[-1][0] if self._sizes else 0
        self._seq = max(state.get("journal_seq", 0), last)

    def append(self, build: Builder, pieces: tuple[Any, ...], size: int) -> None:
        self._seq += 1
        seq = self._seq
        entry = build(seq, *pieces)
        data = dumps({name: getattr(entry, name) for name in _FIELDS})
        size += ENTRY_OVERHEAD
        sizes = self._sizes
        sizes.append((seq, size))
        self._bytes += size
        cut = 0
        while len(sizes) > self.max_entries or (self._bytes > self.max_bytes and len(sizes) > 1):
            cut, dropped = sizes.popleft()
            self._bytes -= dropped
        if self._db.transaction_open:
            self._later.append((seq, size, data, cut))
            return
        try:
            if cut:
                with self._db.own_tx():
                    self._db.execute("DELETE FROM journal WHERE seq <= ?", (cut,))
                    self._db.execute(_INSERT, (seq, size, data))
            else:  # one statement commits by itself: no BEGIN and COMMIT around it
                self._db.execute(_INSERT, (seq, size, data))
        except StoreUnavailable as exc:
            # The answer it records has been decided (a job may be committed, money held): a
            # journal that cannot be written (a full disk) must not turn it into an error.
            self._not_stored({seq}, exc)
            return
        self._stored()

    def _not_stored(self, seqs: set[int], exc: Exception) -> None:
        """Entries lost to a file that cannot be written: out of the bookkeeping (counted in
        ``dropped`` as their numbers are used up), and said once until entries are stored again."""
        sizes = self._sizes
        while sizes and sizes[-1][0] in seqs:  # the newest: none is recorded while they wait
            self._bytes -= sizes.pop()[1]
        if not self._lost:
            log.warning("journal entries are not being stored: %s", exc)
        self._lost += len(seqs)

    def _stored(self) -> None:
        if self._lost:
            log.warning("journal entries stored again; %d were lost", self._lost)
            self._lost = 0

    def write_later(self) -> None:
        """Store the entries recorded while a step's transaction was open (it has ended)."""
        later = self._later
        if not later or self._db.conn is None:
            return
        self._later = []
        cut = max(c for *_, c in later)
        try:
            with self._db.own_tx():
                if cut:
                    self._db.execute("DELETE FROM journal WHERE seq <= ?", (cut,))
                self._db.executemany(
                    _INSERT, [(seq, size, data) for seq, size, data, _ in later if seq > cut]
                )
        except StoreUnavailable as exc:
            self._not_stored({seq for seq, *_ in later}, exc)
        except Exception:  # a bug: said, and the step it followed stands
            log.exception("journal entries %d to %d not stored", later[0][0], later[-1][0])
        else:
            self._stored()

    def entries(self, since: int, limit: int | None) -> list[JournalEntry]:
        if self._sizes:  # rows the bound pushed out may wait for a step to be deleted
            since = max(since, self._sizes[0][0] - 1)
        rows = self._db.execute(
            "SELECT data FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
            (since, -1 if limit is None else limit),
        ).fetchall()
        # and those waiting for a step under way to end (recorded, so read like the rest)
        rows += [(data,) for seq, _, data, _ in self._later if seq > since]
        if limit is not None:
            rows = rows[:limit]
        return [JournalEntry.from_dict(json.loads(data)) for (data,) in rows]

    def stats(self) -> JournalStats:
        sizes = self._sizes
        # every number given since the last clear is an entry kept, pushed out, or lost
        dropped = self._seq - self._first + 1 - len(sizes)
        return JournalStats(len(sizes), dropped, self._bytes, sizes[-1][0] if sizes else 0)

    def clear(self, step: Step) -> None:
        """Inside ``step``: forget every entry; numbers go on past the last one given."""
        step.reload = True  # undone by reading the bookkeeping from the file again
        self._db.execute("DELETE FROM journal")
        self._later = []
        self._seq += 1  # as the in-memory journal does: a clear uses up one number
        self._first = self._seq + 1
        for name, value in (("journal_seq", self._seq), ("journal_first", self._first)):
            self._db.execute(
                "INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", (name, value)
            )
        self._sizes.clear()
        self._bytes = 0
