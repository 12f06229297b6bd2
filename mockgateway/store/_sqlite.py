"""The embedded store: one SQLite file (standard library), surviving restarts and SIGKILL.

Durability. Write-ahead logging with ``synchronous = NORMAL``: a commit is in the file once
COMMIT returns, so it survives the process dying (SIGKILL included); an OS crash or power loss
may lose the last commits but never corrupts the file. What is committed when:

- a step's writes: one transaction, committed when ``atomic()`` exits (before it returns);
  an exception rolls all of them back;
- a write outside a step (a poll's counters, ``incr``, ``take_token``, ``set_meta``, any other
  write method called alone): committed by the call itself, before it returns. Nothing is held
  back to batch: the store cannot see when an answer leaves the process, and a write batched
  into a later commit could be lost after its answer was sent;
- a journal entry: built, stored and committed by ``journal_append`` itself; one recorded while
  a step's transaction is open waits for that step to end and is committed right after it,
  whether the step commits or not (it is readable meanwhile);
- a write outside a step made while another task's step has its transaction open (that step
  awaited something other than this store) joins that transaction: committed, or rolled back,
  with it;
- a claim (``claim_due``) lives in this process only: a task claimed and not acknowledged is
  handed out again when the file is next opened.

Speed. One process owns the file (:mod:`._sqlite_file`), so hot records are kept in-process:
jobs and wallets in bounded caches of live objects (a poll reads the
:class:`~mockgateway._jobs.Job` itself, as with memory) and the aggregates (counts, sizes, the
timed-work heap, counters, buckets, meta, the journal's bookkeeping) in mirrors built when the
file is opened; each part (:mod:`._sqlite_jobs`, ``_wallets``, ``_media``, ``_tasks``,
``_journal``) keeps its own. A failed step rolls the file back and undoes the mirrors
(:mod:`._sqlite_tx`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any

from .._billing import LedgerEntry, WalletState
from .._jobs import Job, Status
from .._journal import Builder, JournalEntry
from ..media import RenderedMedia
from ._sqlite_file import FORGOTTEN_ON_RESET, SETTING, StateFile
from ._sqlite_jobs import DeliveryTable, JobTable
from ._sqlite_journal import JournalTable
from ._sqlite_media import MediaTable
from ._sqlite_tasks import TaskTable
from ._sqlite_tx import Database, Step, bump, restore
from ._sqlite_wallets import WalletTable
from ._types import (
    FORGOTTEN_UNTIL,
    DeliveryRecord,
    JournalStats,
    Page,
    Retention,
    StoreUnavailable,
    Task,
    TaskKind,
)

Event = tuple[str, str]
PROBE = "write check"  # the meta row check_writes writes and deletes
ROOM_BYTES = 1 << 20  # free space a file whose write failed needs before health says ok again
PROBE_BYTES = 16 << 10  # what check_writes writes, then deletes, once a write has failed


def free_bytes(path: str) -> int | None:
    """The space a process may still write beside ``path``; None where it cannot be told."""
    try:
        stat = os.statvfs(os.path.dirname(os.path.abspath(path)))
    except (OSError, AttributeError):  # no statvfs on Windows
        return None
    return stat.f_bavail * stat.f_frsize


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
        cache_jobs: int = 20_000,  # about 1.5 kB each
        cache_wallets: int = 10_000,
    ) -> None:
        self.path = path
        self.retention = retention = retention or Retention()
        self.journal_enabled = journal_enabled
        self.journal_reads_late = False
        self.journal_max_entries = journal_max_entries
        self.journal_max_bytes = journal_max_bytes
        self.journal_max_body_bytes = journal_max_body_bytes
        self._file = StateFile(path)
        self._db = db = Database(path, self._reload, self._after_step)
        self._journal = JournalTable(db, journal_max_entries, journal_max_bytes)
        self._media = MediaTable(db, retention.max_media_bytes)
        self._deliveries = DeliveryTable(db)
        self._jobs = JobTable(db, retention, self._media, self._deliveries, cache_jobs)
        self._jobs.on_forgotten = self._note_forgotten
        self._wallets = WalletTable(db, retention.max_ledger_entries, cache_wallets)
        self._tasks = TaskTable(db)
        self._meta: dict[str, str] = {}
        self._counters: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        if self._db.conn is None:
            self._db.conn = self._file.open()
            self._load(forget_claims=True)

    async def close(self) -> None:
        self._db.conn = None
        self._file.close()

    def _load(self, *, forget_claims: bool) -> None:
        """Build every mirror from the file (at open; to undo a failed step that reset)."""
        db = self._db
        self._meta = dict(db.execute("SELECT name, value FROM meta"))
        self._counters = dict(db.execute("SELECT name, n FROM counters"))
        self._buckets = {n: (t, u) for n, t, u in db.execute("SELECT * FROM buckets")}
        for part in (self._journal, self._media, self._deliveries, self._jobs, self._wallets):
            part.load()
        self._tasks.load(forget_claims=forget_claims)

    def _reload(self) -> None:
        self._load(forget_claims=False)

    def _after_step(self) -> None:
        self._journal.write_later()

    def atomic(self) -> AbstractAsyncContextManager[None]:
        return self._db.atomic()

    def _note_forgotten(self, step: Step, ended_at: float) -> None:
        """Inside ``step``: retention let go of a job that ended at ``ended_at``; links of jobs
        up to the newest such end answer as expired links do."""
        if ended_at <= float(self._meta.get(FORGOTTEN_UNTIL, "0")):
            return
        restore(step, self._meta, FORGOTTEN_UNTIL)
        value = repr(ended_at)
        self._db.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (FORGOTTEN_UNTIL, value)
        )
        self._meta[FORGOTTEN_UNTIL] = value

    async def reset(self) -> None:
        with self._db.tx() as step:
            for table in FORGOTTEN_ON_RESET:
                self._db.execute(f"DELETE FROM {table}")
            restore(step, self._meta, FORGOTTEN_UNTIL)
            self._db.execute("DELETE FROM meta WHERE name = ?", (FORGOTTEN_UNTIL,))
            self._meta.pop(FORGOTTEN_UNTIL, None)
            self._journal.clear(step)  # numbers go on past the last one given
            step.reload = True
            # the mirrors of the emptied tables, read inside the transaction; claims under way
            # stay (acknowledging one deletes nothing), so a failed step can give them back
            self._load(forget_claims=False)

    def on_event(self, listener: Callable[[Event], None]) -> None:
        return None

    async def publish(self, event: Event) -> None:
        return None

    async def check_writes(self) -> None:
        gone = self._file.gone()
        if gone is not None:
            raise StoreUnavailable(
                f"{SETTING}: the state file {self.path!r} was {gone} while the gateway ran: what"
                " it keeps now is lost when it stops; restart it to keep state again"
            )
        db = self._db
        if db.write_failed is None:
            return  # the last write went through: none of its own
        # A small write can fit in a page the file (or its write-ahead log) has while a step
        # does not: a full disk is over once there is room beside the file again and a write
        # the size of a large step, committed, then undone, goes through.
        free = free_bytes(self.path)
        if free is not None and free < ROOM_BYTES:
            raise StoreUnavailable(
                f"{SETTING}: {db.write_failed} ({free:,} bytes free beside the state file)"
            )
        async with db.atomic():
            with db.tx():
                db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, hex(randomblob(?)))",
                    (PROBE, PROBE_BYTES // 2),
                )
        async with db.atomic():
            with db.tx():
                db.execute("DELETE FROM meta WHERE name = ?", (PROBE,))

    # meta, counters, buckets ------------------------------------------------------------------

    async def get_meta(self, name: str) -> str | None:
        return self._meta.get(name)

    async def set_meta(self, name: str, value: str | None) -> None:
        with self._db.tx() as step:
            restore(step, self._meta, name)
            if value is None:
                self._db.execute("DELETE FROM meta WHERE name = ?", (name,))
                self._meta.pop(name, None)
            else:
                self._db.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value)
                )
                self._meta[name] = value

    async def incr(self, name: str) -> int:
        with self._db.tx() as step:
            count = self._counters.get(name, 0) + 1
            self._db.execute(
                "INSERT OR REPLACE INTO counters (name, n) VALUES (?, ?)", (name, count)
            )
            bump(step, self._counters, name, 1)
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
        with self._db.tx() as step:
            self._db.execute(
                "INSERT OR REPLACE INTO buckets (name, tokens, updated) VALUES (?, ?, ?)",
                (bucket, tokens, updated),
            )
            restore(step, self._buckets, bucket)
            self._buckets[bucket] = (tokens, updated)
        return wait

    # jobs -------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        self._jobs.create(job)

    async def get_job(self, request_id: str) -> Job | None:
        return self._jobs.get(request_id)

    async def save_job(self, job: Job) -> None:
        self._jobs.save(job)

    async def poll_job(self, request_id: str, key: str | None = None) -> Job | None:
        return self._jobs.poll(request_id, key)

    async def list_jobs(
        self,
        *,
        status: Status | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        return self._jobs.list(status, key, limit, cursor)

    async def forget_expired(self, now: float) -> None:
        self._jobs.forget_expired(now)

    async def job_counts(self) -> dict[Status, int]:
        return self._jobs.counts()

    async def active_jobs(self, key: str) -> int:
        return self._jobs.active(key)

    # wallets ----------------------------------------------------------------------------------

    async def get_wallet(self, key: str) -> WalletState | None:
        return self._wallets.get(key)

    async def open_wallet(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        return self._wallets.open(key, balance, at, note)

    async def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState:
        return self._wallets.set_balance(key, amount, at, note)

    async def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        return self._wallets.hold(key, request_id, amount, at)

    async def held_for(self, key: str, request_id: str) -> Decimal | None:
        return self._wallets.held_for(key, request_id)

    async def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal] | None:
        return self._wallets.capture(key, request_id, at)

    async def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        return self._wallets.release(key, request_id, at, note)

    async def ledger(
        self, key: str, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[LedgerEntry]:
        return self._wallets.ledger(key, limit, cursor)

    async def list_wallets(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[WalletState]:
        return self._wallets.list(limit, cursor)

    async def wallet_count(self) -> int:
        return self._wallets.count

    # media and deliveries ---------------------------------------------------------------------

    async def put_media(self, request_id: str, media: RenderedMedia) -> None:
        if self._jobs.exists(request_id):
            with self._db.tx() as step:
                self._media.put(step, request_id, media)

    async def get_media(self, request_id: str) -> RenderedMedia | None:
        return self._media.get(request_id)

    async def save_delivery(self, delivery: DeliveryRecord) -> None:
        self._deliveries.save(delivery, self._jobs.exists(delivery.request_id))

    async def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self._deliveries.get(delivery_id)

    async def deliveries_of(self, request_id: str) -> list[DeliveryRecord]:
        return self._deliveries.of(request_id)

    async def delivery_outcomes(self) -> dict[str, int]:
        return dict(self._deliveries.outcomes)

    # timed work -------------------------------------------------------------------------------

    async def schedule(self, due: float, kind: TaskKind, ref: str) -> None:
        self._tasks.schedule(due, kind, ref)

    async def next_due(self) -> float | None:
        return self._tasks.next_due()

    async def claim_due(self, now: float, limit: int = 256) -> list[Task]:
        return self._tasks.claim_due(now, limit)

    async def ack(self, task: Task) -> None:
        self._tasks.ack(task)

    async def unclaim(self, tasks: list[Task]) -> None:
        self._tasks.unclaim(tasks)

    async def pending_tasks(self) -> int:
        return self._tasks.pending()

    # journal ----------------------------------------------------------------------------------

    def journal_append(self, build: Builder, *pieces: Any, size: int = 0) -> None:
        if self.journal_enabled:
            self._journal.append(build, pieces, size)

    async def journal_entries(
        self, *, since: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        return self._journal.entries(since, limit)

    async def journal_stats(self) -> JournalStats:
        return self._journal.stats()

    async def journal_clear(self) -> None:
        with self._db.tx() as step:
            self._journal.clear(step)


__all__ = ["SqliteStore"]
