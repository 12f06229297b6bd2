"""The embedded store: one SQLite file (standard library), surviving restarts and SIGKILL.

Write-ahead logging; a step's writes are one transaction, committed when ``atomic()`` exits. A
write made outside a step (a poll's counters, a journal entry, a counter, a token bucket) is
committed by the call that makes it, before it returns. One process owns the file (see
:mod:`._sqlite_file`), so hot records are kept in-process: jobs and wallets in bounded caches of
live objects (a poll reads the :class:`~mockgateway._jobs.Job` itself, as with memory) and the
aggregates (counts, sizes, the timed-work heap, counters, buckets, meta) in plain mirrors built
when the file is opened. A step that fails rolls back the file and undoes the mirrors; the jobs
and wallets it touched are dropped from the caches and read again from the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import hashlib
import heapq
import json
import logging
import sqlite3
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any

from .._billing import (
    LedgerEntry,
    Movement,
    WalletState,
    capture_entry,
    hold_entry,
    money_str,
    release_entry,
    set_entry,
)
from .._jobs import Job, Status
from .._journal import ENTRY_OVERHEAD, Builder, JournalEntry
from ..media import RenderedMedia
from ._sqlite_file import FORGOTTEN_ON_RESET, SETTING, StateFile
from ._types import DeliveryRecord, JournalStats, Page, Retention, StoreUnavailable, Task, TaskKind

Event = tuple[str, str]
log = logging.getLogger(__name__)

_ACTIVE = (Status.QUEUED, Status.PROCESSING)
_JOURNAL_FIELDS = tuple(JournalEntry.__dataclass_fields__)
_BLOB_CACHE_BYTES = 64 * 1024 * 1024


class _Step:
    """One transaction under way: what to undo in the mirrors and caches if it fails."""

    __slots__ = ("begun", "jobs", "reload", "undo", "wallets")

    def __init__(self) -> None:
        self.begun = False
        self.undo: list[Callable[[], None]] = []
        self.jobs: set[str] = set()  # request ids whose cached objects it may have changed
        self.wallets: set[str] = set()
        self.reload = False  # undo by rebuilding every mirror from the file (after a reset)


_STEP: contextvars.ContextVar[_Step | None] = contextvars.ContextVar("sqlite_step", default=None)


class _Wallet:
    __slots__ = ("first", "state")

    def __init__(self, state: WalletState, first: int) -> None:
        self.state = state
        self.first = first  # the ledger number of the oldest entry kept


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), default=str)


def _ledger_of(data: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        movement=Movement(data["movement"]),
        amount=Decimal(data["amount"]),
        balance_after=Decimal(data["balance_after"]),
        held_after=Decimal(data["held_after"]),
        at=data["at"],
        request_id=data["request_id"],
        note=data["note"],
    )


class SqliteStore:
    kind = "sqlite"
    shared = False

    def __init__(
        self,
        path: str,
        retention: Retention | None = None,
        *,
        journal_enabled: bool = True,
        journal_max_entries: int = 10_000,
        journal_max_bytes: int = 64 * 1024 * 1024,
        journal_max_body_bytes: int = 16 * 1024,
        cache_jobs: int = 50_000,
        cache_wallets: int = 10_000,
    ) -> None:
        self.path = path
        self.retention = retention or Retention()
        self.journal_enabled = journal_enabled
        self.journal_max_entries = journal_max_entries
        self.journal_max_bytes = journal_max_bytes
        self.journal_max_body_bytes = journal_max_body_bytes
        self._cache_jobs = cache_jobs
        self._cache_wallets = cache_wallets
        self._file = StateFile(path)
        self._db_: sqlite3.Connection | None = None
        self._lock: asyncio.Lock | None = None  # made on first use, in the running loop
        self._step: _Step | None = None
        self._journal_later: list[tuple[int, int, str, int]] = []  # written after the step
        self._claimed: dict[str, Task] = {}
        self._empty_mirrors()

    def _empty_mirrors(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # the cache, least recent first
        self._wallets: OrderedDict[str, _Wallet] = OrderedDict()
        self._blobs: OrderedDict[bytes, bytes] = OrderedDict()
        self._blob_bytes = 0
        self._digests: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()  # id(data) -> ...
        self._counts: dict[Any, int] = {}  # (key, status) and status -> jobs
        self._n: dict[str, int] = {}  # ended, media, media_bytes, wallets, pending
        self._outcomes: dict[str, int] = {}
        self._meta: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._heap: list[tuple[float, int, str, str]] = []
        self._dead: set[int] = set()  # task ids in the heap whose scheduling was rolled back
        self._seq = self._ended_seq = self._media_seq = self._delivery_seq = self._task_id = 0
        self._jseq = 0
        self._jfirst = 1
        self._jsizes: deque[tuple[int, int]] = deque()
        self._jbytes = 0

    @property
    def _db(self) -> sqlite3.Connection:
        db = self._db_
        if db is None:
            raise StoreUnavailable(f"{SETTING}: the state file {self.path!r} is not open")
        return db

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._db_ is None:
            self._db_ = self._file.open()
            self._load()

    async def close(self) -> None:
        self._db_ = None
        self._claimed = {}  # claims live as long as this process has the file open
        self._file.close()

    def _load(self) -> None:
        """Build every mirror from the file (at open, and to undo a step that reset)."""
        db = self._db
        claimed = self._claimed
        self._empty_mirrors()

        def one(sql: str) -> int:
            return int(db.execute(sql).fetchone()[0] or 0)

        self._meta = dict(db.execute("SELECT name, value FROM meta"))
        state = dict(db.execute("SELECT name, value FROM state"))
        self._seq = one("SELECT max(seq) FROM jobs")
        self._ended_seq = one("SELECT max(ended) FROM jobs")
        for key, status, n in db.execute(
            "SELECT key, status, count(*) FROM jobs GROUP BY key, status"
        ):
            self._bump(None, self._counts, (key, Status(status)), n)
            self._bump(None, self._counts, Status(status), n)
        self._n["ended"] = one("SELECT count(*) FROM jobs WHERE ended IS NOT NULL")
        self._n["media"] = one("SELECT count(*) FROM media")
        self._n["media_bytes"] = one("SELECT sum(size) FROM blobs")
        self._n["wallets"] = one("SELECT count(*) FROM wallets")
        self._media_seq = one("SELECT max(mseq) FROM media")
        self._delivery_seq = one("SELECT max(dseq) FROM deliveries")
        self._outcomes = dict(
            db.execute(
                "SELECT value, count(*) FROM deliveries, json_each(deliveries.outcomes)"
                " GROUP BY value"
            )
        )
        self._task_id = one("SELECT max(id) FROM tasks")
        self._heap = [
            (due, tid, kind, ref)
            for due, tid, kind, ref in db.execute("SELECT due, id, kind, ref FROM tasks")
            if str(tid) not in claimed
        ]
        heapq.heapify(self._heap)
        self._n["pending"] = len(self._heap)
        self._claimed = claimed
        self._counters = dict(db.execute("SELECT name, n FROM counters"))
        self._buckets = {n: (t, u) for n, t, u in db.execute("SELECT * FROM buckets")}
        self._jsizes = deque(db.execute("SELECT seq, size FROM journal ORDER BY seq"))
        self._jbytes = sum(size for _, size in self._jsizes)
        self._jfirst = state.get("journal_first", 1)
        self._jseq = max(state.get("journal_seq", 0), self._jsizes[-1][0] if self._jsizes else 0)

    @contextlib.asynccontextmanager
    async def atomic(self) -> AsyncIterator[None]:
        current = self._step
        if current is not None and _STEP.get() is current:
            yield  # a step inside a step is part of it
            return
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            step = _Step()
            self._step = step
            token = _STEP.set(step)
            try:
                yield
            except BaseException:
                self._rollback(step)
                raise
            else:
                if step.begun:
                    try:
                        self._db.execute("COMMIT")
                    except sqlite3.Error as exc:
                        self._rollback(step)
                        raise StoreUnavailable(f"{SETTING}: a step was not stored: {exc}") from exc
            finally:
                self._step = None
                _STEP.reset(token)
                self._write_journal_later()

    def _rollback(self, step: _Step) -> None:
        if step.begun:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        if step.reload:
            self._load()
            return
        for undo in reversed(step.undo):
            undo()
        for request_id in step.jobs:
            self._jobs.pop(request_id, None)
        for key in step.wallets:
            self._wallets.pop(key, None)

    @contextlib.contextmanager
    def _tx(self) -> Iterator[_Step]:
        """The transaction a write goes into: the open step's (a write made while another task's
        step is open joins it), else one of its own, committed before the write returns."""
        step = self._step
        if step is not None and (step.begun or _STEP.get() is step):
            if not step.begun:
                self._execute("BEGIN")
                step.begun = True
            yield step
            return
        own = _Step()
        self._execute("BEGIN")
        own.begun = True
        try:
            yield own
        except BaseException:
            self._rollback(own)
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback(own)
            raise StoreUnavailable(f"{SETTING}: a write was not stored: {exc}") from exc

    def _execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.OperationalError as exc:  # disk full, I/O error, file gone
            raise StoreUnavailable(f"{SETTING}: {exc}") from exc

    @staticmethod
    def _bump(step: _Step | None, counts: dict[Any, int], name: Any, delta: int) -> None:
        n = counts.get(name, 0) + delta
        if n:
            counts[name] = n
        else:
            counts.pop(name, None)
        if step is not None:
            step.undo.append(lambda: SqliteStore._bump(None, counts, name, -delta))

    async def reset(self) -> None:
        with self._tx() as step:
            for table in FORGOTTEN_ON_RESET:
                self._execute(f"DELETE FROM {table}")
            self._jseq += 1  # as a cleared journal does: the next entry's number is past it
            self._jfirst = self._jseq + 1
            self._write_state(journal_seq=self._jseq, journal_first=self._jfirst)
            step.reload = True
            self._journal_later = []
            kept = self._meta, self._jseq, self._jfirst, self._task_id  # task ids never reused
            self._claimed = {}
            self._empty_mirrors()
            self._meta, self._jseq, self._jfirst, self._task_id = kept

    def _write_state(self, **values: int) -> None:
        for name, value in values.items():
            self._execute("INSERT OR REPLACE INTO state (name, value) VALUES (?, ?)", (name, value))

    def on_event(self, listener: Callable[[Event], None]) -> None:
        return None

    async def publish(self, event: Event) -> None:
        return None

    async def get_meta(self, name: str) -> str | None:
        return self._meta.get(name)

    async def set_meta(self, name: str, value: str | None) -> None:
        with self._tx() as step:
            old = self._meta.get(name)
            if value is None:
                self._execute("DELETE FROM meta WHERE name = ?", (name,))
                self._meta.pop(name, None)
            else:
                self._execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value)
                )
                self._meta[name] = value
            step.undo.append(lambda: self._restore(self._meta, name, old))

    @staticmethod
    def _restore(mapping: dict[str, Any], name: str, old: Any) -> None:
        if old is None:
            mapping.pop(name, None)
        else:
            mapping[name] = old

    # jobs -------------------------------------------------------------------------------------

    def _cache_job(self, job: Job) -> None:
        jobs = self._jobs
        jobs[job.request_id] = job
        jobs.move_to_end(job.request_id)
        if len(jobs) > self._cache_jobs:
            jobs.popitem(last=False)

    def _job(self, request_id: str) -> Job | None:
        job = self._jobs.get(request_id)
        if job is not None:
            self._jobs.move_to_end(request_id)
        else:
            row = self._execute(
                "SELECT seq, polls, phase_polls, data FROM jobs WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return None
            job = Job.from_dict(json.loads(row[3]))
            job.seq, job.polls, job.phase_polls = row[0], row[1], row[2]
            self._cache_job(job)
        step = self._step
        if step is not None and (step.begun or _STEP.get() is step):
            step.jobs.add(request_id)
        return job

    async def create_job(self, job: Job) -> None:
        with self._tx() as step:
            self._seq += 1
            job.seq = self._seq
            self._execute(
                "INSERT INTO jobs (seq, request_id, key, status, polls, phase_polls, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job.seq,
                    job.request_id,
                    job.key,
                    job.status.value,
                    job.polls,
                    job.phase_polls,
                    _dumps(job.to_dict()),
                ),
            )
            self._bump(step, self._counts, (job.key, job.status), 1)
            self._bump(step, self._counts, job.status, 1)
            self._cache_job(job)
            step.jobs.add(job.request_id)

    async def get_job(self, request_id: str) -> Job | None:
        return self._job(request_id)

    async def save_job(self, job: Job) -> None:
        with self._tx() as step:
            row = self._execute(
                "SELECT status, ended FROM jobs WHERE request_id = ?", (job.request_id,)
            ).fetchone()
            if row is None:
                self._jobs.pop(job.request_id, None)
                return  # forgotten (a reset or retention) while its step ran
            counted = Status(row[0])
            ended, ended_at = row[1], None
            ends = job.status.terminal and ended is None
            if ends:
                self._ended_seq += 1
                ended, ended_at = self._ended_seq, job.updated_at
            self._execute(
                "UPDATE jobs SET status = ?, ended = coalesce(ended, ?),"
                " ended_at = coalesce(ended_at, ?), polls = ?, phase_polls = ?, data = ?"
                " WHERE request_id = ?",
                (
                    job.status.value,
                    ended,
                    ended_at,
                    job.polls,
                    job.phase_polls,
                    _dumps(job.to_dict()),
                    job.request_id,
                ),
            )
            if counted is not job.status:
                self._bump(step, self._counts, (job.key, counted), -1)
                self._bump(step, self._counts, counted, -1)
                self._bump(step, self._counts, (job.key, job.status), 1)
                self._bump(step, self._counts, job.status, 1)
            self._cache_job(job)
            step.jobs.add(job.request_id)
            if ends:
                self._bump(step, self._n, "ended", 1)
                self._evict(step, job.updated_at)

    def _evict(self, step: _Step, now: float) -> None:
        retention = self.retention
        oldest = now - retention.max_age_seconds
        while self._n.get("ended", 0):
            row = self._execute(
                "SELECT request_id, ended_at FROM jobs WHERE ended IS NOT NULL"
                " ORDER BY ended LIMIT 1"
            ).fetchone()
            if row is None or (self._n.get("ended", 0) <= retention.max_jobs and row[1] >= oldest):
                return
            self._forget(step, row[0])

    def _forget(self, step: _Step, request_id: str) -> None:
        row = self._execute(
            "SELECT key, status, ended FROM jobs WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return
        key, status = row[0], Status(row[1])
        self._execute("DELETE FROM jobs WHERE request_id = ?", (request_id,))
        self._bump(step, self._counts, (key, status), -1)
        self._bump(step, self._counts, status, -1)
        if row[2] is not None:
            self._bump(step, self._n, "ended", -1)
        self._jobs.pop(request_id, None)
        step.jobs.add(request_id)
        self._drop_media(step, request_id)
        for (outcomes,) in self._execute(
            "SELECT outcomes FROM deliveries WHERE request_id = ?", (request_id,)
        ).fetchall():
            for name in json.loads(outcomes):
                self._bump(step, self._outcomes, name, -1)
        self._execute("DELETE FROM deliveries WHERE request_id = ?", (request_id,))

    async def poll_job(self, request_id: str) -> Job | None:
        job = self._job(request_id)
        if job is not None:
            job.polls += 1
            job.phase_polls += 1
            step = self._step
            if step is not None and (step.begun or _STEP.get() is step):
                with self._tx():
                    self._execute(
                        "UPDATE jobs SET polls = ?, phase_polls = ? WHERE seq = ?",
                        (job.polls, job.phase_polls, job.seq),
                    )
            else:  # one statement commits by itself: no BEGIN and COMMIT around it
                self._execute(
                    "UPDATE jobs SET polls = ?, phase_polls = ? WHERE seq = ?",
                    (job.polls, job.phase_polls, job.seq),
                )
        return job

    async def list_jobs(
        self,
        *,
        status: Status | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        where = ["seq < ?"]
        params: list[Any] = [int(cursor) if cursor is not None else self._seq + 1]
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if key is not None:
            where.append("key = ?")
            params.append(key)
        rows = self._execute(
            f"SELECT seq, request_id, polls, phase_polls, data FROM jobs"
            f" WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        items: list[Job] = []
        for seq, request_id, polls, phase_polls, data in rows[:limit]:
            job = self._jobs.get(request_id)  # a listing reads the cache but does not fill it
            if job is None:
                job = Job.from_dict(json.loads(data))
                job.seq, job.polls, job.phase_polls = seq, polls, phase_polls
            items.append(job)
        next_cursor = str(items[-1].seq) if len(rows) > limit and items else None
        counts = self._counts
        if key is None:
            total = counts.get(status, 0) if status is not None else self._job_total()
        elif status is None:
            total = sum(counts.get((key, s), 0) for s in Status)
        else:
            total = counts.get((key, status), 0)
        return Page(items, total, next_cursor)

    def _job_total(self) -> int:
        return sum(self._counts.get(s, 0) for s in Status)

    async def job_counts(self) -> dict[Status, int]:
        return {s: self._counts.get(s, 0) for s in Status}

    async def active_jobs(self, key: str) -> int:
        counts = self._counts
        return sum(counts.get((key, s), 0) for s in _ACTIVE)

    # wallets ----------------------------------------------------------------------------------

    def _wallet_of(self, key: str) -> _Wallet | None:
        wallets = self._wallets
        wallet = wallets.get(key)
        if wallet is None:
            row = self._execute(
                "SELECT balance, held, ledger_size, ledger_first FROM wallets WHERE key = ?",
                (key,),
            ).fetchone()
            if row is None:
                return None
            wallet = _Wallet(WalletState(key, Decimal(row[0]), Decimal(row[1]), row[2]), row[3])
            wallets[key] = wallet
            if len(wallets) > self._cache_wallets:
                wallets.popitem(last=False)
        else:
            wallets.move_to_end(key)
        return wallet

    def _wallet(self, key: str) -> _Wallet:
        wallet = self._wallet_of(key)
        if wallet is None:
            raise KeyError(f"no wallet for {key!r}")
        return wallet

    def _write(self, step: _Step, wallet: _Wallet, entry: LedgerEntry) -> None:
        """Append the entry, keep the last ``max_ledger_entries``, store the wallet."""
        state = wallet.state
        step.wallets.add(state.key)
        n = state.ledger_size + 1
        self._execute(
            "INSERT INTO ledger (key, n, data) VALUES (?, ?, ?)",
            (state.key, n, _dumps(entry.to_dict())),
        )
        state.ledger_size = n
        cut = n - self.retention.max_ledger_entries
        if cut >= wallet.first:
            self._execute(
                "DELETE FROM ledger WHERE key = ? AND n BETWEEN ? AND ?",
                (state.key, wallet.first, cut),
            )
            wallet.first = cut + 1
        self._execute(
            "UPDATE wallets SET balance = ?, held = ?, ledger_size = ?, ledger_first = ?"
            " WHERE key = ?",
            (str(state.balance), str(state.held), n, wallet.first, state.key),
        )

    async def get_wallet(self, key: str) -> WalletState | None:
        wallet = self._wallet_of(key)
        return None if wallet is None else wallet.state

    async def open_wallet(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        wallet = self._wallet_of(key)
        if wallet is not None:
            return wallet.state
        with self._tx() as step:
            self._execute(
                "INSERT INTO wallets (key, balance, held, ledger_size, ledger_first)"
                " VALUES (?, '0', '0', 0, 1)",
                (key,),
            )
            wallet = _Wallet(WalletState(key, Decimal(0)), 1)
            self._wallets[key] = wallet
            self._bump(step, self._n, "wallets", 1)
            self._write(step, wallet, set_entry(wallet.state, balance, at, note))
        return wallet.state

    async def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState:
        wallet = self._wallet_of(key)
        if wallet is None:
            return await self.open_wallet(key, amount, at, note)
        with self._tx() as step:
            step.wallets.add(key)
            self._write(step, wallet, set_entry(wallet.state, amount, at, note))
        return wallet.state

    def _held(self, key: str, request_id: str) -> Decimal | None:
        row = self._execute(
            "SELECT amount FROM holds WHERE key = ? AND request_id = ?", (key, request_id)
        ).fetchone()
        return None if row is None else Decimal(row[0])

    async def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        wallet = self._wallet(key)
        held = self._held(key, request_id)
        if held is not None:
            raise ValueError(f"{request_id} already holds {money_str(held)}")
        with self._tx() as step:
            step.wallets.add(key)
            entry = hold_entry(wallet.state, request_id, amount, at)
            if entry is None:
                return False
            self._execute(
                "INSERT INTO holds (key, request_id, amount) VALUES (?, ?, ?)",
                (key, request_id, str(amount)),
            )
            self._write(step, wallet, entry)
        return True

    async def held_for(self, key: str, request_id: str) -> Decimal | None:
        return self._held(key, request_id)

    async def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal]:
        wallet = self._wallet(key)
        held = self._held(key, request_id)
        if held is None:
            raise KeyError(f"{request_id} holds nothing in the wallet of {key!r}")
        with self._tx() as step:
            step.wallets.add(key)
            self._execute("DELETE FROM holds WHERE key = ? AND request_id = ?", (key, request_id))
            entry = capture_entry(wallet.state, request_id, held, at)
            self._write(step, wallet, entry)
        return entry.amount, held

    async def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        wallet = self._wallet_of(key)
        held = None if wallet is None else self._held(key, request_id)
        if wallet is None or held is None:
            return Decimal(0)
        with self._tx() as step:
            step.wallets.add(key)
            self._execute("DELETE FROM holds WHERE key = ? AND request_id = ?", (key, request_id))
            self._write(step, wallet, release_entry(wallet.state, request_id, held, at, note))
        return held

    async def ledger(
        self, key: str, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[LedgerEntry]:
        wallet = self._wallet_of(key)
        if wallet is None:
            return Page([], 0)
        first = wallet.first
        start = max(first, int(cursor)) if cursor is not None else first
        rows = self._execute(
            "SELECT n, data FROM ledger WHERE key = ? AND n >= ? ORDER BY n LIMIT ?",
            (key, start, limit + 1),
        ).fetchall()
        items = [_ledger_of(json.loads(data)) for _, data in rows[:limit]]
        next_cursor = str(rows[limit][0]) if len(rows) > limit else None
        total = max(0, wallet.state.ledger_size - first + 1)
        return Page(items, total, next_cursor)

    async def list_wallets(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[WalletState]:
        rows = self._execute(
            "SELECT key FROM wallets WHERE key > ? ORDER BY key LIMIT ?",
            (cursor if cursor is not None else "", limit + 1),
        ).fetchall()
        items = [w.state for (key,) in rows[:limit] if (w := self._wallet_of(key)) is not None]
        next_cursor = rows[limit - 1][0] if len(rows) > limit and limit else None
        return Page(items, self._n.get("wallets", 0), next_cursor)

    # media ------------------------------------------------------------------------------------

    def _digest(self, data: bytes) -> bytes:
        """The content digest, remembered for the last few buffers (a sample served to every job
        is one object: hashed once)."""
        known = self._digests.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        digest = hashlib.sha256(data).digest()
        self._digests[id(data)] = (data, digest)
        if len(self._digests) > 8:
            self._digests.popitem(last=False)
        return digest

    def _job_exists(self, request_id: str) -> bool:
        if request_id in self._jobs:
            return True
        row = self._execute("SELECT 1 FROM jobs WHERE request_id = ?", (request_id,)).fetchone()
        return row is not None

    async def put_media(self, request_id: str, media: RenderedMedia) -> None:
        if not self._job_exists(request_id):
            return
        digest = self._digest(media.data)
        with self._tx() as step:
            self._drop_media(step, request_id)
            changed = self._execute(
                "UPDATE blobs SET refs = refs + 1 WHERE digest = ?", (digest,)
            ).rowcount
            if not changed:
                self._execute(
                    "INSERT INTO blobs (digest, size, refs, data) VALUES (?, ?, 1, ?)",
                    (digest, len(media.data), media.data),
                )
                self._bump(step, self._n, "media_bytes", len(media.data))
            self._media_seq += 1
            self._execute(
                "INSERT INTO media (request_id, mseq, digest, content_type, etag)"
                " VALUES (?, ?, ?, ?, ?)",
                (request_id, self._media_seq, digest, media.content_type, media.etag),
            )
            self._bump(step, self._n, "media", 1)
            self._cache_blob(digest, media.data)
            while (
                self._n.get("media_bytes", 0) > self.retention.max_media_bytes
                and self._n.get("media", 0) > 1
            ):
                (oldest,) = self._execute(
                    "SELECT request_id FROM media ORDER BY mseq LIMIT 1"
                ).fetchone()
                self._drop_media(step, oldest)

    def _drop_media(self, step: _Step, request_id: str) -> None:
        row = self._execute(
            "SELECT digest FROM media WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return
        digest = row[0]
        self._execute("DELETE FROM media WHERE request_id = ?", (request_id,))
        self._bump(step, self._n, "media", -1)
        size, refs = self._execute(
            "SELECT size, refs FROM blobs WHERE digest = ?", (digest,)
        ).fetchone()
        if refs > 1:
            self._execute("UPDATE blobs SET refs = refs - 1 WHERE digest = ?", (digest,))
        else:
            self._execute("DELETE FROM blobs WHERE digest = ?", (digest,))
            self._bump(step, self._n, "media_bytes", -size)
            cached = self._blobs.pop(digest, None)
            if cached is not None:
                self._blob_bytes -= len(cached)

    def _cache_blob(self, digest: bytes, data: bytes) -> None:
        blobs = self._blobs
        if digest in blobs:
            blobs.move_to_end(digest)
            return
        if len(data) > _BLOB_CACHE_BYTES // 4:
            return
        blobs[digest] = data
        self._blob_bytes += len(data)
        while self._blob_bytes > _BLOB_CACHE_BYTES:
            _, dropped = blobs.popitem(last=False)
            self._blob_bytes -= len(dropped)

    async def get_media(self, request_id: str) -> RenderedMedia | None:
        row = self._execute(
            "SELECT digest, content_type, etag FROM media WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return None
        digest, content_type, etag = row
        data = self._blobs.get(digest)
        if data is None:
            found = self._execute("SELECT data FROM blobs WHERE digest = ?", (digest,)).fetchone()
            if found is None:
                return None
            data = bytes(found[0])
            self._cache_blob(digest, data)
        return RenderedMedia(data=data, content_type=content_type, etag=etag)

    # webhook deliveries -----------------------------------------------------------------------

    async def save_delivery(self, delivery: DeliveryRecord) -> None:
        row = self._execute(
            "SELECT dseq, outcomes FROM deliveries WHERE id = ?", (delivery.id,)
        ).fetchone()
        if row is None and not self._job_exists(delivery.request_id):
            return
        names = [str(o.get("outcome", "other")) for o in delivery.outcomes]
        with self._tx() as step:
            if row is None:
                self._delivery_seq += 1
                dseq = self._delivery_seq
            else:
                dseq = row[0]
                for name in json.loads(row[1]):
                    self._bump(step, self._outcomes, name, -1)
            self._execute(
                "INSERT OR REPLACE INTO deliveries (id, request_id, dseq, outcomes, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (delivery.id, delivery.request_id, dseq, _dumps(names), _dumps(delivery.to_dict())),
            )
            for name in names:
                self._bump(step, self._outcomes, name, 1)

    async def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        row = self._execute("SELECT data FROM deliveries WHERE id = ?", (delivery_id,)).fetchone()
        return None if row is None else DeliveryRecord.from_dict(json.loads(row[0]))

    async def deliveries_of(self, request_id: str) -> list[DeliveryRecord]:
        rows = self._execute(
            "SELECT data FROM deliveries WHERE request_id = ? ORDER BY dseq", (request_id,)
        )
        return [DeliveryRecord.from_dict(json.loads(data)) for (data,) in rows]

    async def delivery_outcomes(self) -> dict[str, int]:
        return dict(self._outcomes)

    # timed work -------------------------------------------------------------------------------

    async def schedule(self, due: float, kind: TaskKind, ref: str) -> None:
        with self._tx() as step:
            self._task_id += 1
            task_id = self._task_id
            self._execute(
                "INSERT INTO tasks (id, due, kind, ref) VALUES (?, ?, ?, ?)",
                (task_id, due, kind.value, ref),
            )
            heapq.heappush(self._heap, (due, task_id, kind.value, ref))
            self._bump(step, self._n, "pending", 1)
            step.undo.append(lambda: self._dead.add(task_id))

    def _drop_dead(self) -> None:
        heap, dead = self._heap, self._dead
        while heap and heap[0][1] in dead:
            dead.discard(heapq.heappop(heap)[1])

    async def next_due(self) -> float | None:
        self._drop_dead()
        return self._heap[0][0] if self._heap else None

    async def claim_due(self, now: float, limit: int = 256) -> list[Task]:
        """Claims live in this process only: the file's owner is the one claimer, and a task
        claimed and not acknowledged when it died is handed out again when the file is reopened.
        """
        heap = self._heap
        tasks: list[Task] = []
        self._drop_dead()
        while heap and heap[0][0] <= now and len(tasks) < limit:
            due, task_id, kind, ref = heapq.heappop(heap)
            task = Task(due, TaskKind(kind), ref, str(task_id))
            self._claimed[task.id] = task
            self._bump(None, self._n, "pending", -1)
            tasks.append(task)
            self._drop_dead()
        return tasks

    async def ack(self, task: Task) -> None:
        with self._tx() as step:
            self._execute("DELETE FROM tasks WHERE id = ?", (int(task.id),))
            claimed = self._claimed.pop(task.id, None)
            if claimed is not None:
                step.undo.append(lambda: self._claimed.__setitem__(task.id, claimed))

    async def pending_tasks(self) -> int:
        return self._n.get("pending", 0)

    # counters and buckets ---------------------------------------------------------------------

    async def incr(self, name: str) -> int:
        with self._tx() as step:
            count = self._counters.get(name, 0) + 1
            self._execute("INSERT OR REPLACE INTO counters (name, n) VALUES (?, ?)", (name, count))
            self._bump(step, self._counters, name, 1)
        return count

    async def take_token(self, bucket: str, rate: float, burst: int, now: float) -> float | None:
        tokens, updated = self._buckets.get(bucket, (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - updated) * rate)
        updated = max(updated, now)
        wait: float | None = None
        if tokens >= 1.0 - 1e-6:  # float noise must not deny a token that is due
            tokens = max(0.0, tokens - 1.0)
        else:
            wait = (1.0 - tokens) / rate
        with self._tx() as step:
            self._execute(
                "INSERT OR REPLACE INTO buckets (name, tokens, updated) VALUES (?, ?, ?)",
                (bucket, tokens, updated),
            )
            old = self._buckets.get(bucket)
            self._buckets[bucket] = (tokens, updated)
            step.undo.append(lambda: self._restore(self._buckets, bucket, old))
        return wait

    # journal ----------------------------------------------------------------------------------

    def journal_append(self, build: Builder, *pieces: Any, size: int = 0) -> None:
        """Built and written at once (the pieces are live objects of one request, which no other
        process could read). Outside a step the entry is committed before this returns; an entry
        recorded while a step's transaction is open is written, and committed, right after the
        step ends, whether the step commits or not (the journal records what was answered)."""
        if not self.journal_enabled:
            return
        self._jseq += 1
        seq = self._jseq
        entry = build(seq, *pieces)
        data = _dumps({name: getattr(entry, name) for name in _JOURNAL_FIELDS})
        size += ENTRY_OVERHEAD
        sizes = self._jsizes
        sizes.append((seq, size))
        self._jbytes += size
        cut = 0
        while len(sizes) > self.journal_max_entries or (
            self._jbytes > self.journal_max_bytes and len(sizes) > 1
        ):
            cut, dropped = sizes.popleft()
            self._jbytes -= dropped
        step = self._step
        if step is not None and step.begun:
            self._journal_later.append((seq, size, data, cut))
            return
        self._write_journal(seq, size, data, cut)

    def _write_journal(self, seq: int, size: int, data: str, cut: int) -> None:
        db = self._db
        if cut:
            db.execute("BEGIN")
            db.execute("DELETE FROM journal WHERE seq <= ?", (cut,))
            db.execute("INSERT INTO journal (seq, size, data) VALUES (?, ?, ?)", (seq, size, data))
            db.execute("COMMIT")
        else:
            db.execute("INSERT INTO journal (seq, size, data) VALUES (?, ?, ?)", (seq, size, data))

    def _write_journal_later(self) -> None:
        later = self._journal_later
        if not later or self._db_ is None:
            return
        self._journal_later = []
        db = self._db
        try:
            db.execute("BEGIN")
            cut = max(c for *_, c in later)
            if cut:
                db.execute("DELETE FROM journal WHERE seq <= ?", (cut,))
            db.executemany(
                "INSERT INTO journal (seq, size, data) VALUES (?, ?, ?)",
                [(seq, size, data) for seq, size, data, _ in later if seq > cut],
            )
            db.execute("COMMIT")
        except sqlite3.Error:
            log.exception("journal entries %d to %d not stored", later[0][0], later[-1][0])
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    async def journal_entries(
        self, *, since: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        if self._jsizes:  # rows the bound pushed out may wait for a step to be deleted
            since = max(since, self._jsizes[0][0] - 1)
        rows = self._execute(
            "SELECT data FROM journal WHERE seq > ? ORDER BY seq LIMIT ?",
            (since, -1 if limit is None else limit),
        ).fetchall()
        # and those waiting for a step under way to end (recorded, so read like the rest)
        rows += [(data,) for seq, _, data, _ in self._journal_later if seq > since]
        if limit is not None:
            rows = rows[:limit]
        return [JournalEntry.from_dict(json.loads(data)) for (data,) in rows]

    async def journal_stats(self) -> JournalStats:
        sizes = self._jsizes
        dropped = sizes[0][0] - self._jfirst if sizes else 0
        return JournalStats(len(sizes), dropped, self._jbytes)

    async def journal_clear(self) -> None:
        with self._tx() as step:
            step.reload = True  # undone by reading the journal's bookkeeping from the file again
            self._journal_later = []
            self._execute("DELETE FROM journal")
            self._jseq += 1
            self._jfirst = self._jseq + 1
            self._write_state(journal_seq=self._jseq, journal_first=self._jfirst)
            self._jsizes.clear()
            self._jbytes = 0


__all__ = ["SqliteStore"]
