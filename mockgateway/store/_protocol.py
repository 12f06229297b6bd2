"""The one owner of gateway state: what every backend (memory, SQLite, Redis) must do.

Rules every backend keeps (the store contract suite, ``tests/test_store_contract.py``, checks
them against each):

- **Steps are atomic.** The gateway changes state in steps (a submit, a phase change, a
  settlement, an operator command), each inside ``async with store.atomic():``. Every write in a
  step takes effect together or not at all (a SIGKILL mid-step leaves the state as before it), and
  no two steps run at once, in this process or in any other sharing the store. Reads outside a
  step see committed state.
- **Acknowledged means stored.** When ``atomic()`` exits, the step's writes are durable as far as
  the backend is (memory: this process; SQLite: the file, surviving SIGKILL; Redis: the server).
- **Objects are values.** ``get_job`` may return a live object (memory) or a fresh copy; callers
  write changes back with ``save_job`` inside a step. A backend never keeps a caller's object
  alive past retention.
- **Constant time.** Every call is O(1) or O(log n) in the number of jobs, wallets, ledger
  entries and tasks, except listings, which are O(page) (plus the skipped non-matches of a
  filter).
- **Money is exact.** Amounts are :class:`~decimal.Decimal` in and out; a hold never makes
  ``held`` exceed ``balance`` at the moment it is taken; ``capture`` takes at most the balance.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from decimal import Decimal
from typing import Any, Protocol

from .._billing import LedgerEntry, WalletState
from .._jobs import Job, Status
from .._journal import Builder, JournalEntry
from ..media import RenderedMedia
from ._types import DeliveryRecord, JournalStats, Page, Retention, Task, TaskKind

Event = tuple[str, str]  # ("clock", "<seconds>"), ("reset", ""), ("scenario", "<json or empty>")


class Store(Protocol):
    kind: str  # "memory", "sqlite" or "redis"
    shared: bool  # several gateway processes may use it at once
    retention: Retention

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect or create; :class:`~mockgateway.store.StoreError` naming the setting when the
        store cannot be opened, is of another layout version, or is held by another process."""

    async def close(self) -> None: ...

    def atomic(self) -> AbstractAsyncContextManager[None]:
        """One step: all its writes or none, and no other step anywhere at the same time."""
        ...

    async def reset(self) -> None:
        """Forget jobs, wallets, ledger, media, deliveries, tasks, counters, buckets and the
        journal; keep meta (the clock and the runtime scenario)."""

    def on_event(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` for an event another process published (shared stores only)."""

    async def publish(self, event: Event) -> None:
        """Tell every other process sharing the store (a no-op for unshared stores)."""

    async def check_writes(self) -> None:
        """Raise :class:`~mockgateway.store.StoreUnavailable` saying why when the store cannot
        take writes now (a full disk, Redis out of memory, read-only or out of reach), in
        constant time; reads may still work then."""

    # meta: the manual clock's time, the runtime scenario --------------------------------------

    async def get_meta(self, name: str) -> str | None: ...

    async def set_meta(self, name: str, value: str | None) -> None: ...

    # jobs -------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        """Store a new job (QUEUED); it counts as active for its key until it ends."""

    async def get_job(self, request_id: str) -> Job | None: ...

    async def save_job(self, job: Job) -> None:
        """Write a changed job back. A job that has ended stops counting as active, and older
        ended jobs beyond :attr:`retention` are forgotten (with their media and deliveries)."""

    async def poll_job(self, request_id: str, key: str | None = None) -> Job | None:
        """The job with ``polls`` and ``phase_polls`` counted up by one (atomic per counter, not
        a step: a poll never waits for one). With ``key``, a job of another key is None and
        counts nothing: a status poll reads and counts its job in one call."""

    async def list_jobs(
        self,
        *,
        status: Status | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        """Newest first; ``key`` is a whole key; ``cursor`` from an earlier page."""
        ...

    async def forget_expired(self, now: float) -> None:
        """Let go of ended jobs older than the retention age at ``now`` (they also go as other
        jobs end; this is for a gateway where none do)."""
        ...

    async def job_counts(self) -> dict[Status, int]:
        """How many stored jobs are in each status (constant time)."""
        ...

    async def active_jobs(self, key: str) -> int:
        """The key's jobs not yet ended (constant time)."""
        ...

    # wallets ----------------------------------------------------------------------------------

    async def get_wallet(self, key: str) -> WalletState | None: ...

    async def open_wallet(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        """The key's wallet, made with ``balance`` (a ``set`` ledger entry) if it has none."""
        ...

    async def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState: ...

    async def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        """Whether the job holds money now: ``amount`` is held if ``available`` covers it (False:
        nothing held). A job that holds already keeps its hold, and nothing is written (work
        done again after a restart holds once). A key without a wallet is a :class:`KeyError`."""
        ...

    async def held_for(self, key: str, request_id: str) -> Decimal | None:
        """What the job holds now, None when it holds nothing."""
        ...

    async def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal] | None:
        """Charge what the job holds, capped at the balance: ``(charged, held)``; None, and
        nothing written, when it holds nothing."""
        ...

    async def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        """Let go of the job's hold (0 when it held nothing)."""
        ...

    async def ledger(
        self, key: str, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[LedgerEntry]:
        """Oldest first, of the bounded tail kept."""
        ...

    async def list_wallets(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[WalletState]: ...

    async def wallet_count(self) -> int:
        """How many wallets are kept (constant time)."""
        ...

    # media ------------------------------------------------------------------------------------

    async def put_media(self, request_id: str, media: RenderedMedia) -> None:
        """Keep a job's output (identical bytes are kept once); the oldest go past
        ``retention.max_media_bytes``."""

    async def get_media(self, request_id: str) -> RenderedMedia | None: ...

    # webhook deliveries -----------------------------------------------------------------------

    async def save_delivery(self, delivery: DeliveryRecord) -> None: ...

    async def get_delivery(self, delivery_id: str) -> DeliveryRecord | None: ...

    async def deliveries_of(self, request_id: str) -> list[DeliveryRecord]: ...

    async def delivery_outcomes(self) -> dict[str, int]:
        """Attempt outcomes counted over all deliveries kept (for metrics), by outcome name."""
        ...

    # timed work -------------------------------------------------------------------------------

    async def schedule(self, due: float, kind: TaskKind, ref: str) -> None: ...

    async def next_due(self) -> float | None: ...

    async def claim_due(self, now: float, limit: int = 256) -> list[Task]:
        """Tasks due by ``now``, earliest first, each handed to one caller only. A task claimed
        and not acknowledged (the claimer died) is handed out again after a lease."""
        ...

    async def ack(self, task: Task) -> None:
        """A claimed task is done; call it inside the step that did its work."""

    async def unclaim(self, tasks: list[Task]) -> None:
        """Tasks this process claimed and will not run now (the step of one before them
        failed): handed out again at once, as if never claimed. One acknowledged meanwhile
        stays done."""

    async def pending_tasks(self) -> int: ...

    # counters and buckets ---------------------------------------------------------------------

    async def incr(self, name: str) -> int:
        """Count up by one and return the new count (atomic across processes)."""
        ...

    async def take_token(self, bucket: str, rate: float, burst: int, now: float) -> float | None:
        """Token bucket: None when a token was taken, else the seconds until one is due."""
        ...

    # journal ----------------------------------------------------------------------------------

    @property
    def journal_enabled(self) -> bool: ...

    journal_max_entries: int
    journal_max_bytes: int
    journal_max_body_bytes: int
    # Whether an entry's pieces are read only when the journal is read (memory). A store that reads
    # them sooner (SQLite as it appends, Redis as its writer runs) must be given an answer's header
    # map complete: the edge then has the answer's headers written before it journals it.
    journal_reads_late: bool

    def journal_append(self, build: Builder, *pieces: Any, size: int = 0) -> None:
        """Record ``build(seq, *pieces)`` (a :class:`JournalEntry`); synchronous and cheap, on
        the request's hot path. ``size`` is the bytes the pieces weigh."""

    async def journal_entries(
        self, *, since: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        """Oldest first, after sequence number ``since``."""
        ...

    async def journal_stats(self) -> JournalStats: ...

    async def journal_clear(self) -> None: ...
