"""The default store: this process's memory, fast and forgotten on exit.

Holds live objects (a poll reads the :class:`~mockgateway._jobs.Job` itself), keeps timed work in a
heap, and bounds everything by :class:`~mockgateway.store.Retention`: ended jobs in the order they
ended, media by bytes, each wallet's ledger by entries.
"""

from __future__ import annotations

import contextvars
import itertools
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from .._billing import (
    LedgerEntry,
    WalletState,
    capture_entry,
    hold_entry,
    release_entry,
    set_entry,
)
from .._jobs import QUEUED, Job, Status
from .._journal import Builder, Journal, JournalEntry
from ..media import RenderedMedia
from ._due import DueQueue
from ._turns import Turns
from ._types import FORGOTTEN_UNTIL, DeliveryRecord, JournalStats, Page, Retention, Task, TaskKind

Event = tuple[str, str]
_IN_STEP: contextvars.ContextVar[object] = contextvars.ContextVar("memory_step", default=None)


class _Wallet:
    __slots__ = ("holds", "ledger", "state")

    def __init__(self, state: WalletState, max_ledger: int) -> None:
        self.state = state
        self.holds: dict[str, Decimal] = {}
        self.ledger: deque[LedgerEntry] = deque(maxlen=max_ledger)


def _ignore(build: Builder, *pieces: Any, size: int = 0) -> None:
    """The journal append of a store whose journal is off."""


class _Step:
    """One step of a :class:`MemoryStore` (its ``atomic()``): the store's turn, held from enter to
    exit; a step inside a step is part of it. A class rather than a generator-based context
    manager: every job's phase change is a step, and this enters and leaves in two calls."""

    __slots__ = ("_store", "_token")

    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._token: contextvars.Token[object] | None = None

    async def __aenter__(self) -> None:
        store = self._store
        if store._step is not None and _IN_STEP.get() is store._step:
            return  # nested: the outer step holds the turn
        turns = store._turns
        if not turns.try_take():
            await turns.take()
        step = store._step = object()
        self._token = _IN_STEP.set(step)

    async def __aexit__(self, *exc: object) -> None:
        token = self._token
        if token is None:
            return
        store = self._store
        store._step = None
        _IN_STEP.reset(token)
        store._turns.give()


class MemoryStore:
    kind = "memory"
    shared = False

    def __init__(
        self,
        retention: Retention | None = None,
        *,
        journal_enabled: bool = True,
        journal_max_entries: int = 10_000,
        journal_max_bytes: int = 64 * 1024 * 1024,
        journal_max_body_bytes: int = 16 * 1024,
    ) -> None:
        self.retention = retention or Retention()
        self.journal = Journal(
            journal_max_entries,
            enabled=journal_enabled,
            max_bytes=journal_max_bytes,
            max_body_bytes=journal_max_body_bytes,
        )
        # the journal's own method (one call per journaled request), or nothing when it is off
        self.journal_append: Callable[..., None] = (
            self.journal.append_lazy if journal_enabled else _ignore
        )
        self.journal_max_entries = journal_max_entries
        self.journal_reads_late = True
        self.journal_max_bytes = journal_max_bytes
        self.journal_max_body_bytes = journal_max_body_bytes
        self._meta: dict[str, str] = {}
        self._turns = Turns()
        self._step: object | None = None  # the step under way (a task it starts is not in it)
        self._clear()

    def _clear(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._order: list[str | None] = []  # request ids by creation; None where one was dropped
        self._order_base = 0  # the seq of _order[0]
        self._order_head = 0  # no request id before this index of _order
        self._seq = itertools.count(1)
        self._ended: OrderedDict[str, float] = OrderedDict()  # ended jobs, oldest end first
        self._counts: dict[Status, int] = dict.fromkeys(Status, 0)
        self._counted: dict[str, Status] = {}  # each job's status as counted in _counts
        self._active: dict[str, int] = {}
        self._wallets: dict[str, _Wallet] = {}
        self._media: OrderedDict[str, RenderedMedia] = OrderedDict()
        self._media_bytes = 0
        self._media_refs: dict[int, int] = {}  # id(bytes) -> jobs sharing those bytes
        self._deliveries: dict[str, DeliveryRecord] = {}
        self._deliveries_of: dict[str, list[str]] = {}
        self._due = DueQueue()
        self._claimed: dict[str, Task] = {}  # handed out, not yet acknowledged
        self._task_seq = itertools.count()
        self._counters: dict[str, int] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # tokens, updated

    @property
    def journal_enabled(self) -> bool:
        return self.journal.enabled

    @property
    def jobs(self) -> Mapping[str, Job]:
        """Every job kept, by request id (read-only: change jobs through the gateway)."""
        return MappingProxyType(self._jobs)

    @property
    def wallets(self) -> Mapping[str, WalletState]:
        """Every wallet's money, by key (read-only)."""
        return {key: wallet.state for key, wallet in self._wallets.items()}

    def ledger_of(self, key: str) -> list[LedgerEntry]:
        """The key's ledger as kept (its bounded tail), oldest first."""
        wallet = self._wallets.get(key)
        return [] if wallet is None else list(wallet.ledger)

    def holds_of(self, key: str) -> Mapping[str, Decimal]:
        """The key's open holds by request id (read-only)."""
        wallet = self._wallets.get(key)
        return MappingProxyType(wallet.holds if wallet is not None else {})

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def atomic(self) -> _Step:
        # One process, one thread: a step that does not await is atomic by itself; its turn keeps
        # a step that does await (anything but this store) from running beside another.
        return _Step(self)

    async def reset(self) -> None:
        self._clear()
        self.journal.clear()
        self._meta.pop(FORGOTTEN_UNTIL, None)

    def on_event(self, listener: Callable[[Event], None]) -> None:
        return None

    async def publish(self, event: Event) -> None:
        return None

    async def check_writes(self) -> None:
        return None  # a process's own memory always takes writes

    async def get_meta(self, name: str) -> str | None:
        return self._meta.get(name)

    async def set_meta(self, name: str, value: str | None) -> None:
        if value is None:
            self._meta.pop(name, None)
        else:
            self._meta[name] = value

    # jobs -------------------------------------------------------------------------------------

    async def create_job(self, job: Job) -> None:
        job.seq = next(self._seq)
        self._jobs[job.request_id] = job
        self._order.append(job.request_id)
        self._counts[job.status] += 1
        self._active[job.key] = self._active.get(job.key, 0) + 1

    async def get_job(self, request_id: str) -> Job | None:
        return self._jobs.get(request_id)

    async def save_job(self, job: Job) -> None:
        stored = self._jobs.get(job.request_id)
        if stored is None:
            return  # forgotten (a reset or retention) while its step ran
        self._jobs[job.request_id] = job
        counted = self._counted.get(job.request_id, QUEUED)
        if counted is not job.status:
            self._counts[counted] -= 1
            self._counts[job.status] += 1
            self._counted[job.request_id] = job.status
        if job.status.terminal and job.request_id not in self._ended:
            self._ended[job.request_id] = job.updated_at
            active = self._active.get(job.key, 1) - 1
            if active:
                self._active[job.key] = active
            else:
                self._active.pop(job.key, None)
            self._evict(job.updated_at)

    def _evict(self, now: float) -> None:
        retention = self.retention
        ended = self._ended
        oldest = now - retention.max_age_seconds
        while ended and (len(ended) > retention.max_jobs or next(iter(ended.values())) < oldest):
            request_id, _ = ended.popitem(last=False)
            job = self._jobs.get(request_id)
            if job is not None:
                until = float(self._meta.get(FORGOTTEN_UNTIL, "0"))
                self._meta[FORGOTTEN_UNTIL] = repr(max(until, job.updated_at))
            self._forget(request_id)

    def _forget(self, request_id: str) -> None:
        job = self._jobs.pop(request_id, None)
        if job is None:
            return
        self._counts[self._counted.pop(request_id, job.status)] -= 1
        index = job.seq - self._order_base - 1
        if 0 <= index < len(self._order):
            self._order[index] = None
        self._drop_media(request_id)
        for delivery_id in self._deliveries_of.pop(request_id, ()):
            self._deliveries.pop(delivery_id, None)
        self._compact()

    def _compact(self) -> None:
        """Cut the dropped ids off the front of _order, a thousand or more at a time (looking
        on from where the last look stopped, so each eviction costs the same)."""
        order = self._order
        dropped = self._order_head
        while dropped < len(order) and order[dropped] is None:
            dropped += 1
        if dropped > 1024 or (dropped and dropped == len(order)):
            del order[:dropped]
            self._order_base += dropped
            dropped = 0
        self._order_head = dropped

    async def poll_job(self, request_id: str, key: str | None = None) -> Job | None:
        job = self._jobs.get(request_id)
        if job is None or (key is not None and job.key != key):
            return None
        job.polls += 1
        job.phase_polls += 1
        return job

    async def list_jobs(
        self,
        *,
        status: Status | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        start = len(self._order) - 1
        if cursor is not None:
            start = min(start, int(cursor) - self._order_base - 1)
        items: list[Job] = []
        index = start
        order, jobs = self._order, self._jobs
        while index >= 0 and len(items) < limit:
            request_id = order[index]
            index -= 1
            job = jobs.get(request_id) if request_id is not None else None
            if job is None or (status is not None and job.status is not status):
                continue
            if key is not None and job.key != key:
                continue
            items.append(job)
        more = index >= 0 and len(items) == limit
        next_cursor = str(index + self._order_base + 1) if more else None  # order[index]'s seq
        if status is None and key is None:
            total = len(jobs)
        elif key is None and status is not None:
            total = self._counts[status]
        else:
            total = sum(
                1 for j in jobs.values() if j.key == key and (status is None or j.status is status)
            )
        return Page(items, total, next_cursor)

    async def forget_expired(self, now: float) -> None:
        self._evict(now)

    async def job_counts(self) -> dict[Status, int]:
        return dict(self._counts)

    async def active_jobs(self, key: str) -> int:
        return self._active.get(key, 0)

    # wallets ----------------------------------------------------------------------------------

    def _wallet(self, key: str) -> _Wallet:
        wallet = self._wallets.get(key)
        if wallet is None:
            raise KeyError(f"no wallet for {key!r}")
        return wallet

    def _write(self, wallet: _Wallet, entry: LedgerEntry) -> None:
        wallet.ledger.append(entry)
        wallet.state.ledger_size += 1

    async def get_wallet(self, key: str) -> WalletState | None:
        wallet = self._wallets.get(key)
        return None if wallet is None else wallet.state

    async def open_wallet(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        wallet = self._wallets.get(key)
        if wallet is None:
            wallet = _Wallet(WalletState(key, Decimal(0)), self.retention.max_ledger_entries)
            self._wallets[key] = wallet
            self._write(wallet, set_entry(wallet.state, balance, at, note))
        return wallet.state

    async def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState:
        wallet = self._wallets.get(key)
        if wallet is None:
            return await self.open_wallet(key, amount, at, note)
        self._write(wallet, set_entry(wallet.state, amount, at, note))
        return wallet.state

    async def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        wallet = self._wallet(key)
        if request_id in wallet.holds:
            return True  # held already: kept as it is
        entry = hold_entry(wallet.state, request_id, amount, at)
        if entry is None:
            return False
        wallet.holds[request_id] = amount
        self._write(wallet, entry)
        return True

    async def held_for(self, key: str, request_id: str) -> Decimal | None:
        wallet = self._wallets.get(key)
        return None if wallet is None else wallet.holds.get(request_id)

    async def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal] | None:
        wallet = self._wallets.get(key)
        held = None if wallet is None else wallet.holds.pop(request_id, None)
        if wallet is None or held is None:
            return None
        entry = capture_entry(wallet.state, request_id, held, at)
        self._write(wallet, entry)
        return entry.amount, held

    async def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        wallet = self._wallets.get(key)
        if wallet is None:
            return Decimal(0)
        held = wallet.holds.pop(request_id, None)
        if held is None:
            return Decimal(0)
        self._write(wallet, release_entry(wallet.state, request_id, held, at, note))
        return held

    async def ledger(
        self, key: str, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[LedgerEntry]:
        wallet = self._wallets.get(key)
        if wallet is None:
            return Page([], 0)
        entries = wallet.ledger
        start = int(cursor) if cursor is not None else 0
        items = list(itertools.islice(entries, start, start + limit))
        end = start + len(items)
        return Page(items, len(entries), str(end) if end < len(entries) else None)

    async def list_wallets(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[WalletState]:
        total = len(self._wallets)
        start = min(max(0, int(cursor)), total) if cursor is not None else 0
        stop = min(total, start + max(0, limit))
        items = [w.state for w in itertools.islice(self._wallets.values(), start, stop)]
        end = start + len(items)
        return Page(items, total, str(end) if end < total else None)

    async def wallet_count(self) -> int:
        return len(self._wallets)

    # media ------------------------------------------------------------------------------------

    async def put_media(self, request_id: str, media: RenderedMedia) -> None:
        if request_id not in self._jobs:
            return
        self._drop_media(request_id)
        data_id = id(media.data)
        refs = self._media_refs.get(data_id, 0)
        if not refs:
            self._media_bytes += len(media.data)
        self._media_refs[data_id] = refs + 1
        self._media[request_id] = media
        while self._media_bytes > self.retention.max_media_bytes and len(self._media) > 1:
            oldest = next(iter(self._media))
            self._drop_media(oldest)

    def _drop_media(self, request_id: str) -> None:
        media = self._media.pop(request_id, None)
        if media is None:
            return
        data_id = id(media.data)
        refs = self._media_refs.get(data_id, 1) - 1
        if refs:
            self._media_refs[data_id] = refs
        else:
            self._media_refs.pop(data_id, None)
            self._media_bytes -= len(media.data)

    async def get_media(self, request_id: str) -> RenderedMedia | None:
        return self._media.get(request_id)

    # webhook deliveries -----------------------------------------------------------------------

    async def save_delivery(self, delivery: DeliveryRecord) -> None:
        if delivery.id not in self._deliveries:
            if delivery.request_id not in self._jobs:
                return
            self._deliveries_of.setdefault(delivery.request_id, []).append(delivery.id)
        self._deliveries[delivery.id] = delivery

    async def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        return self._deliveries.get(delivery_id)

    async def deliveries_of(self, request_id: str) -> list[DeliveryRecord]:
        ids = self._deliveries_of.get(request_id, ())
        return [self._deliveries[i] for i in ids if i in self._deliveries]

    async def delivery_outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for delivery in self._deliveries.values():
            for outcome in delivery.outcomes:
                name = str(outcome.get("outcome", "other"))
                counts[name] = counts.get(name, 0) + 1
        return counts

    # timed work -------------------------------------------------------------------------------

    async def schedule(self, due: float, kind: TaskKind, ref: str) -> None:
        self._due.push((due, next(self._task_seq), kind, ref))

    async def next_due(self) -> float | None:
        return self._due.first_due()

    async def claim_due(self, now: float, limit: int = 256) -> list[Task]:
        claimed = self._claimed
        tasks: list[Task] = []
        for due, seq, kind, ref in self._due.take_due(now, limit):
            task = Task(due, kind, ref, str(seq))
            claimed[task.id] = task
            tasks.append(task)
        return tasks

    async def ack(self, task: Task) -> None:
        self._claimed.pop(task.id, None)

    async def unclaim(self, tasks: list[Task]) -> None:
        for task in tasks:
            if self._claimed.pop(task.id, None) is not None:
                self._due.push_back((task.due, int(task.id), task.kind, task.ref))

    async def pending_tasks(self) -> int:
        return len(self._due)

    # counters and buckets ---------------------------------------------------------------------

    async def incr(self, name: str) -> int:
        count = self._counters.get(name, 0) + 1
        self._counters[name] = count
        return count

    async def take_token(self, bucket: str, rate: float, burst: int, now: float) -> float | None:
        tokens, updated = self._buckets.get(bucket, (float(burst), now))
        tokens = min(float(burst), tokens + max(0.0, now - updated) * rate)
        updated = max(updated, now)
        if tokens >= 1.0 - 1e-6:  # float noise must not deny a token that is due
            self._buckets[bucket] = (max(0.0, tokens - 1.0), updated)
            return None
        self._buckets[bucket] = (tokens, updated)
        return (1.0 - tokens) / rate

    # journal ----------------------------------------------------------------------------------

    async def journal_entries(
        self, *, since: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        entries = self.journal.entries(since=since)
        return entries if limit is None else entries[:limit]

    async def journal_stats(self) -> JournalStats:
        journal = self.journal
        return JournalStats(len(journal), journal.dropped, journal.kept_bytes, journal.last_seq)

    async def journal_clear(self) -> None:
        self.journal.clear()


__all__ = ["MemoryStore"]
