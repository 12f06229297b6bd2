"""One step of the Redis store: its writes, buffered until the step ends and then applied in one
MULTI/EXEC, and what the step's own reads must see of them before then.

Final values (a job's JSON, a wallet, a delivery, a meta value) are kept once per object, the last
one written; changes to shared indexes and counters (a job's move between statuses, a ledger row,
a task) are kept as commands in the order they were made. Deltas of the counters that reads add up
(jobs per status, active jobs, outcomes) are kept beside them for those reads.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .._billing import LedgerEntry, WalletState
from .._jobs import Job, Status
from ..media import RenderedMedia
from ._redis_keys import Keys
from ._redis_lua import EVICT, PUT_MEDIA
from ._types import DeliveryRecord, Retention

Command = Callable[[Any], object]  # queues one command on a pipeline


def ledger_row(entry: LedgerEntry) -> str:
    return json.dumps(entry.to_dict(), separators=(",", ":"))


def tally(delivery: DeliveryRecord) -> Counter[str]:
    return Counter(str(o.get("outcome", "other")) for o in delivery.outcomes)


class Step:
    """Everything one step has written and not yet applied."""

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.open = True
        self.clear()

    def clear(self) -> None:
        self.jobs: dict[str, tuple[Job, str]] = {}
        self.created: dict[str, Job] = {}
        self.status: dict[str, Status | None] = {}  # a job's status as it stands in this step
        self.count_delta: Counter[Status] = Counter()
        self.key_delta: Counter[tuple[str, Status]] = Counter()
        self.active_delta: Counter[str] = Counter()
        self.wallets: dict[str, WalletState] = {}  # read or written in this step
        self.dirty_wallets: set[str] = set()
        self.new_wallets: dict[str, int] = {}  # key -> creation order
        self.holds: dict[tuple[str, str], Decimal | None] = {}
        self.ledger: dict[str, list[LedgerEntry]] = {}
        self.meta: dict[str, str | None] = {}
        self.deliveries: dict[str, tuple[DeliveryRecord, str]] = {}
        self.tallies: dict[str, Counter[str]] = {}
        self.new_deliveries: dict[str, list[str]] = {}
        self.outcome_delta: Counter[str] = Counter()
        self.media: dict[str, RenderedMedia] = {}
        self.scheduled: list[float] = []  # due times of the tasks added
        self.commands: list[Command] = []
        self.evict_at: float | None = None

    @property
    def empty(self) -> bool:
        return not (
            self.jobs
            or self.dirty_wallets
            or self.meta
            or self.deliveries
            or self.media
            or self.commands
        )

    # jobs -------------------------------------------------------------------------------------

    def create_job(self, job: Job, raw: str) -> None:
        keys, rid, status = self.keys, job.request_id, job.status
        self.jobs[rid] = (job, raw)
        self.created[rid] = job
        self.status[rid] = status
        jc = keys.job_counters(rid)
        mapping = {"s": status.value, "k": job.key, "p": job.polls}
        mapping[f"pp:{status.value}"] = job.phase_polls
        self.commands += [
            lambda p: p.hset(jc, mapping=mapping),
            lambda p: p.zadd(keys.order, {rid: job.seq}),
            lambda p: p.zadd(keys.by_status(status.value), {rid: job.seq}),
            lambda p: p.zadd(keys.by_key(job.key), {rid: job.seq}),
            lambda p: p.hincrby(keys.counts, status.value, 1),
            lambda p: p.hincrby(keys.key_counts(job.key), status.value, 1),
        ]
        self.count_delta[status] += 1
        self.key_delta[job.key, status] += 1
        if status.terminal:
            self._end(job)
        else:
            self.commands.append(lambda p: p.hincrby(keys.active, job.key, 1))
            self.active_delta[job.key] += 1

    def save_job(self, job: Job, raw: str, prior: Status) -> None:
        keys, rid, status = self.keys, job.request_id, job.status
        self.jobs[rid] = (job, raw)
        self.status[rid] = status
        if prior is status:
            return
        seq, key = job.seq, job.key
        self.commands += [
            lambda p: p.hset(keys.job_counters(rid), "s", status.value),
            lambda p: p.zrem(keys.by_status(prior.value), rid),
            lambda p: p.zadd(keys.by_status(status.value), {rid: seq}),
            lambda p: p.hincrby(keys.counts, prior.value, -1),
            lambda p: p.hincrby(keys.counts, status.value, 1),
            lambda p: p.hincrby(keys.key_counts(key), prior.value, -1),
            lambda p: p.hincrby(keys.key_counts(key), status.value, 1),
        ]
        self.count_delta[prior] -= 1
        self.count_delta[status] += 1
        self.key_delta[key, prior] -= 1
        self.key_delta[key, status] += 1
        if status.terminal and not prior.terminal:
            self.commands.append(lambda p: p.hincrby(keys.active, key, -1))
            self.active_delta[key] -= 1
            self._end(job)

    def _end(self, job: Job) -> None:
        # jobs ending at one instant go in the order they were made (the member leads with it)
        member, at = f"{job.seq:016d}|{job.request_id}", job.updated_at
        self.commands.append(lambda p: p.zadd(self.keys.ended, {member: at}))
        self.evict_at = at if self.evict_at is None else max(self.evict_at, at)

    # wallets ----------------------------------------------------------------------------------

    def new_wallet(self, state: WalletState, order: int) -> None:
        self.wallets[state.key] = state
        self.new_wallets[state.key] = order
        key = self.keys.wallets
        self.commands.append(lambda p: p.zadd(key, {state.key: order}))

    def write_ledger(self, state: WalletState, entry: LedgerEntry, max_entries: int) -> None:
        state.ledger_size += 1
        self.wallets[state.key] = state
        self.dirty_wallets.add(state.key)
        self.ledger.setdefault(state.key, []).append(entry)
        ledger, row = self.keys.ledger(state.key), ledger_row(entry)
        self.commands += [
            lambda p: p.rpush(ledger, row),
            lambda p: p.ltrim(ledger, -max_entries, -1),
        ]

    def set_hold(self, key: str, request_id: str, amount: Decimal | None) -> None:
        self.holds[key, request_id] = amount
        holds = self.keys.holds(key)
        if amount is None:
            self.commands.append(lambda p: p.hdel(holds, request_id))
        else:
            self.commands.append(lambda p: p.hset(holds, request_id, str(amount)))

    # deliveries -------------------------------------------------------------------------------

    def save_delivery(self, delivery: DeliveryRecord, before: Counter[str] | None) -> None:
        """``before``: the outcomes stored so far (None: a delivery new to the store)."""
        keys, rid = self.keys, delivery.request_id
        if before is None:
            before = Counter()
            self.new_deliveries.setdefault(rid, []).append(delivery.id)
            dof = keys.deliveries_of(rid)
            self.commands.append(lambda p: p.rpush(dof, delivery.id))
        after = tally(delivery)
        for name in set(before) | set(after):
            change = after[name] - before[name]
            if change:
                self.outcome_delta[name] += change
                self.commands += _tally_commands(keys, rid, name, change)
        self.tallies[delivery.id] = after
        raw = json.dumps(delivery.to_dict(), separators=(",", ":"))
        self.deliveries[delivery.id] = (delivery, raw)

    # applying ---------------------------------------------------------------------------------

    def queue(self, pipe: Any, retention: Retention) -> None:
        """Queue every write on ``pipe`` (a transaction): final values, then commands in order,
        then media (the job's key must exist) and retention's eviction last."""
        keys = self.keys
        for name, value in self.meta.items():
            if value is None:
                pipe.hdel(keys.meta, name)
            else:
                pipe.hset(keys.meta, name, value)
        for rid, (_, raw) in self.jobs.items():
            pipe.set(keys.job(rid), raw)
        for key in self.dirty_wallets:
            state = self.wallets[key]
            pipe.hset(
                keys.wallet(key),
                mapping={
                    "balance": str(state.balance),
                    "held": str(state.held),
                    "charged": str(state.charged),
                    "size": state.ledger_size,
                },
            )
        for delivery_id, (_, raw) in self.deliveries.items():
            pipe.set(keys.delivery(delivery_id), raw)
        for command in self.commands:
            command(pipe)
        for rid, media in self.media.items():
            pipe.eval(
                PUT_MEDIA,
                0,
                keys.p,
                rid,
                media_digest(media),
                media.data,
                media.content_type,
                media.etag,
                retention.max_media_bytes,
            )
        if self.evict_at is not None:
            cutoff = self.evict_at - retention.max_age_seconds
            pipe.eval(EVICT, 0, keys.p, retention.max_jobs, repr(cutoff))


def _tally_commands(keys: Keys, request_id: str, name: str, change: int) -> list[Command]:
    tally_key = keys.delivery_tally(request_id)
    return [
        lambda p: p.hincrby(keys.douts, name, change),
        lambda p: p.hincrby(tally_key, name, change),
    ]


def media_digest(media: RenderedMedia) -> str:
    return hashlib.sha256(media.data).hexdigest()
