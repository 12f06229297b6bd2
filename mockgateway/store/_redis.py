"""The Redis store: a server shared by several gateway replicas, so they act as one gateway.

A step (``atomic()``) takes a cluster-wide lock and buffers its writes (:mod:`._redis_step`); at
its end they are applied in one MULTI/EXEC that also releases the lock, so a replica dying mid-step
leaves nothing half-done and no two steps run at once anywhere. Writes outside a step are single
commands or server-side scripts (:mod:`._redis_lua`): poll counts, claims with a lease, token
buckets, counters, the journal (:mod:`._redis_journal`). Replicas tell each other of clock, reset
and scenario changes over pub/sub (:mod:`._redis_events`). Keys: :mod:`._redis_keys`.

Redis unreachable at open is a :class:`StoreError` naming ``state.url``; lost while running, every
call raises :class:`StoreUnavailable` within the socket timeout, and the next call after Redis is
back succeeds (the client reconnects by itself). Money is decimal text, computed with
:class:`~decimal.Decimal` under the step lock, never as floats.

Timing defaults: a claimed task is handed out again 30 s after its claim unless acked
(``lease_seconds``); the step lock lives 5 s unless renewed (``lock_seconds``: how long a replica
that died mid-step blocks the others); a step waits at most 10 s for it (``lock_wait_seconds``)
and a call at most about twice ``socket_timeout`` (2 s) for Redis before StoreUnavailable.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from decimal import Decimal
from typing import Any, ParamSpec, TypeVar
from urllib.parse import unquote, urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import NoPermissionError, RedisError

from .._billing import (
    LedgerEntry,
    WalletState,
    capture_entry,
    hold_entry,
    release_entry,
    set_entry,
)
from .._jobs import Job, Status
from .._journal import Builder, JournalEntry
from ..media import RenderedMedia
from ._redis_errors import UNREACHABLE, refusal, unavailable, with_code
from ._redis_events import EventChannel
from ._redis_journal import JournalWriter
from ._redis_keys import Keys
from ._redis_lock import StepLock
from ._redis_lua import (
    CLAIM,
    EVICT,
    GET_JOB,
    GET_MEDIA,
    NEXT_DUE,
    POLL_JOB,
    PUT_MEDIA,
    RESET,
    TAKE_TOKEN,
    UNCLAIM,
)
from ._redis_step import Step, media_digest, tally
from ._types import (
    LAYOUT_VERSION,
    DeliveryRecord,
    JournalStats,
    Page,
    Retention,
    StoreError,
    StoreUnavailable,
    Task,
    TaskKind,
)

Event = tuple[str, str]
P = ParamSpec("P")
R = TypeVar("R")

log = logging.getLogger("mockgateway.store")

_SCAN_BATCH = 128
MIN_VERSION = (7, 0)  # the scripts' flags line (see _redis_lua)


def _guard(method: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Redis lost, or refusing writes, while running: a :class:`StoreUnavailable`, never a hang
    or a raw error."""

    @functools.wraps(method)
    async def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await method(*args, **kwargs)
        except (RedisError, OSError) as error:
            _raise_unavailable(error)
            raise

    return guarded


def _raise_unavailable(error: BaseException) -> None:
    """Raise the :class:`StoreUnavailable` ``error`` stands for; return if it is a bug."""
    lost = unavailable(error)
    if lost is not None:
        raise lost from error


def shown_url(url: str) -> str:
    """``url`` with any password hidden, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def _check_database(url: str) -> None:
    """A ``ValueError`` when a ``redis://`` URL's path names no database number: redis-py reads
    such a path as database 0, so a typing slip would share another team's state without a
    word. (A URL ``urlsplit`` cannot read is left for redis-py to refuse.)"""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        return  # unix:// names its database as ?db=N, which redis-py checks itself
    path = unquote(parts.path)
    if path not in ("", "/") and not re.fullmatch(r"/[0-9]+", path):
        raise ValueError(f"its path {path!r} is not a database number")


def supported_version(version: str) -> bool:
    """Whether a server of ``version`` (``INFO server``'s ``redis_version``) runs the store's
    scripts: their flags line came with Redis 7.0 (Valkey says 7.2.4 or later)."""
    found = re.match(r"([0-9]+)\.([0-9]+)", version)
    return found is not None and (int(found[1]), int(found[2])) >= MIN_VERSION


async def _server_info(redis: Redis) -> dict[str, Any] | None:
    """``INFO``'s server and memory sections; None when an ACL keeps ``INFO`` from this user."""
    try:
        return {**await redis.info("server"), **await redis.info("memory")}
    except NoPermissionError:
        return None


def _warn_of_eviction(info: dict[str, Any], shown: str) -> None:
    """A Redis that evicts keys when full drops jobs, wallets and the step lock without a word
    (queues built on Redis warn of the same): said at open, as a warning."""
    policy = str(info.get("maxmemory_policy", "noeviction"))
    if policy != "noeviction":
        log.warning(
            "Redis at %s evicts keys when it is full (maxmemory-policy %s): jobs, wallets and the"
            " step lock can vanish then; set maxmemory-policy noeviction for mockgateway's"
            " database",
            shown,
            policy,
        )


def _text(value: bytes | str | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def _ledger_entry(raw: bytes) -> LedgerEntry:
    return LedgerEntry.from_dict(json.loads(raw))


def _wallet_of(key: str, row: list[Any]) -> WalletState | None:
    balance, held, charged, size = row
    if balance is None:
        return None
    return WalletState(
        key,
        Decimal(balance.decode()),
        held=Decimal(held.decode()),
        charged=Decimal(charged.decode()) if charged is not None else Decimal(0),
        ledger_size=int(size),
    )


def _task_of(member: bytes, due: bytes | float, lease: int) -> Task:
    _, kind, ref = member.decode().split("|", 2)
    return Task(float(due), TaskKind(kind), ref, member.decode(), lease)


class RedisStore:
    kind = "redis"
    shared = True

    _r: Redis
    _lock: StepLock
    _journal: JournalWriter
    _events: EventChannel

    def __init__(
        self,
        url: str,
        retention: Retention | None = None,
        *,
        journal_enabled: bool = True,
        journal_max_entries: int = 10_000,
        journal_max_bytes: int = 64 * 1024 * 1024,
        journal_max_body_bytes: int = 16 * 1024,
        prefix: str = "mg:",
        lease_seconds: float = 30.0,
        lock_seconds: float = 5.0,
        lock_wait_seconds: float = 10.0,
        socket_timeout: float = 2.0,
    ) -> None:
        self.url = url
        self.retention = retention or Retention()
        self.journal_enabled = journal_enabled
        self.journal_reads_late = False
        self.journal_max_entries = journal_max_entries
        self.journal_max_bytes = journal_max_bytes
        self.journal_max_body_bytes = journal_max_body_bytes
        self.keys = Keys(prefix)
        self.lease_seconds = lease_seconds
        self.lock_seconds = lock_seconds
        self.lock_wait_seconds = lock_wait_seconds
        self.socket_timeout = socket_timeout
        self._listeners: list[Callable[[Event], None]] = []
        self._step_var: contextvars.ContextVar[Step | None] = contextvars.ContextVar(
            f"mockgateway-redis-step-{id(self)}", default=None
        )
        self._task_clock = 0
        self._opened = False

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        shown = shown_url(self.url)
        try:
            _check_database(self.url)
            redis = Redis.from_url(
                self.url,
                socket_timeout=self.socket_timeout,
                socket_connect_timeout=min(self.socket_timeout, 1.0),
                retry=Retry(NoBackoff(), 1),  # one retry: a pooled socket the server closed
                client_name="mockgateway",
                protocol=2,  # RESP2 whatever redis-py's default (8.x asks for RESP3)
            )
        except ValueError as error:
            raise StoreError(
                f"{shown} is not a Redis URL ({error}); expected e.g. redis://127.0.0.1:6379/0",
                setting="state.url",
            ) from error
        try:
            await redis.ping()
            info = await _server_info(redis)
            version = None if info is None else str(info.get("redis_version", ""))
            if version is not None and not supported_version(version):
                await redis.aclose()
                raise StoreError(
                    f"Redis at {shown} is version {version or '(not said)'}; mockgateway needs"
                    f" Redis {'.'.join(map(str, MIN_VERSION))} or later (its scripts declare"
                    " whether they write)",
                    setting="state.url",
                )
            await redis.set(self.keys.layout, LAYOUT_VERSION, nx=True)
            layout = _text(await redis.get(self.keys.layout))
        except (RedisError, OSError) as error:
            await redis.aclose()
            code = refusal(error)
            if code is not None:
                problem = f"Redis at {shown} refuses writes ({with_code(error, code)})"
            elif isinstance(error, UNREACHABLE):
                problem = f"cannot reach Redis at {shown}: {error}"
            else:  # an ACL that forbids a command, say
                problem = f"Redis at {shown} refused a command of mockgateway's: {error}"
            raise StoreError(problem, setting="state.url") from error
        if info is not None:
            _warn_of_eviction(info, shown)
        if layout != str(LAYOUT_VERSION):
            await redis.aclose()
            raise StoreError(
                f"the Redis database at {shown} holds mockgateway layout version {layout!r}; this"
                f" mockgateway reads layout version {LAYOUT_VERSION} only (point state.url at"
                " another database, or empty that one)",
                setting="state.url",
            )
        self._r = redis
        self._lock = StepLock(
            redis, self.keys.lock, ttl=self.lock_seconds, wait=self.lock_wait_seconds
        )
        self._journal = JournalWriter(
            redis,
            self.keys.p,
            enabled=self.journal_enabled,
            max_entries=self.journal_max_entries,
            max_bytes=self.journal_max_bytes,
        )
        self._events = EventChannel(redis, self.keys.events, self._listeners)
        self._get_job = redis.register_script(GET_JOB)
        self._poll_job = redis.register_script(POLL_JOB)
        self._put_media = redis.register_script(PUT_MEDIA)
        self._get_media = redis.register_script(GET_MEDIA)
        self._claim = redis.register_script(CLAIM)
        self._unclaim = redis.register_script(UNCLAIM)
        self._next_due = redis.register_script(NEXT_DUE)
        self._take_token = redis.register_script(TAKE_TOKEN)
        self._reset = redis.register_script(RESET)
        self._journal.start()
        await self._events.start(timeout=self.socket_timeout)
        self._opened = True

    async def close(self) -> None:
        if not self._opened:
            return
        self._opened = False
        await self._journal.stop(timeout=self.socket_timeout)
        await self._events.stop()
        await self._lock.close()
        await self._r.aclose()

    # steps ------------------------------------------------------------------------------------

    def _step(self) -> Step | None:
        step = self._step_var.get()
        return step if step is not None and step.open else None

    def atomic(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self._atomic()

    @contextlib.asynccontextmanager
    async def _atomic(self) -> AsyncIterator[None]:
        if self._step() is not None:
            yield  # a step within a step is part of it
            return
        async with self._stepping():
            yield

    @contextlib.asynccontextmanager
    async def _stepping(self) -> AsyncIterator[Step]:
        """The current step, or a new one for this call alone."""
        current = self._step()
        if current is not None:
            yield current
            return
        lock = self._lock
        try:
            await lock.acquire()
        except (RedisError, OSError) as error:
            _raise_unavailable(error)
            raise
        step = Step(self.keys)
        token = self._step_var.set(step)
        committed = False
        try:
            yield step
            step.open = False
            await self._commit(step)
            committed = True
        finally:
            step.open = False
            self._step_var.reset(token)
            if not committed:
                await lock.release()

    async def _commit(self, step: Step) -> None:
        lock = self._lock
        await lock.stop_renewing()
        hand_on = lock.hand_on()
        if step.empty:
            if hand_on:
                lock.ended(hand_on)
            else:
                await lock.release()
            return
        try:
            async with self._r.pipeline(transaction=True) as pipe:
                if not lock.valid():  # a long step: make sure the lock is still ours
                    await pipe.watch(lock.key)
                    if _text(await pipe.get(lock.key)) != lock.token:
                        raise StoreUnavailable("the store's step lock lapsed before the step ended")
                    pipe.multi()  # type: ignore[no-untyped-call]
                step.queue(pipe, self.retention)
                lock.queue_end(pipe, hand_on)
                sent = time.monotonic()
                lock.queued(await pipe.execute())
        except (RedisError, OSError) as error:
            _raise_unavailable(error)
            raise
        lock.ended(hand_on, sent)

    async def _run(self, step: Step | None, *commands: Callable[[Any], object]) -> None:
        """Writes that read nothing first: into the step, or applied now in one transaction."""
        if step is not None:
            step.commands.extend(commands)
            return
        async with self._r.pipeline(transaction=True) as pipe:
            for command in commands:
                command(pipe)
            await pipe.execute()

    @_guard
    async def reset(self) -> None:
        async with self._stepping() as step:
            keys = self.keys
            await self._journal.clear_with(lambda: self._reset(args=[keys.p, keys.pattern]))
            step.clear()

    def on_event(self, listener: Callable[[Event], None]) -> None:
        self._listeners.append(listener)

    @_guard
    async def publish(self, event: Event) -> None:
        await self._events.publish(event)

    @_guard
    async def check_writes(self) -> None:
        # one small write that lapses by itself: Redis refuses it as it would any other
        await self._r.set(self.keys.probe, "1", px=60_000)

    # meta -------------------------------------------------------------------------------------

    @_guard
    async def get_meta(self, name: str) -> str | None:
        step = self._step()
        if step is not None and name in step.meta:
            return step.meta[name]
        return _text(await self._r.hget(self.keys.meta, name))

    @_guard
    async def set_meta(self, name: str, value: str | None) -> None:
        step = self._step()
        if step is not None:
            step.meta[name] = value
        elif value is None:
            await self._r.hdel(self.keys.meta, name)
        else:
            await self._r.hset(self.keys.meta, name, value)

    # jobs -------------------------------------------------------------------------------------

    def _job_of(self, row: list[Any]) -> Job:
        raw, _, polls, phase_polls = row
        job = Job.from_dict(json.loads(raw))
        job.polls = int(polls)
        job.phase_polls = int(phase_polls)
        return job

    async def _stored_status(self, step: Step, request_id: str) -> Status | None:
        if request_id not in step.status:
            raw = _text(await self._r.hget(self.keys.job_counters(request_id), "s"))
            step.status[request_id] = None if raw is None else Status(raw)
        return step.status[request_id]

    @_guard
    async def create_job(self, job: Job) -> None:
        async with self._stepping() as step:
            job.seq = int(await self._r.incr(self.keys.jseq))
            step.create_job(job, json.dumps(job.to_dict(), separators=(",", ":")))

    @_guard
    async def get_job(self, request_id: str) -> Job | None:
        step = self._step()
        if step is not None and request_id in step.jobs:
            return step.jobs[request_id][0]
        row = await self._get_job(args=[self.keys.p, request_id])
        if not row:
            if step is not None:
                step.status.setdefault(request_id, None)
            return None
        if step is not None:
            step.status.setdefault(request_id, Status(row[1].decode()))
        return self._job_of(row)

    @_guard
    async def save_job(self, job: Job) -> None:
        async with self._stepping() as step:
            prior = await self._stored_status(step, job.request_id)
            if prior is None:
                return  # forgotten (a reset or retention) while its step ran
            step.save_job(job, json.dumps(job.to_dict(), separators=(",", ":")), prior)

    @_guard
    async def poll_job(self, request_id: str, key: str | None = None) -> Job | None:
        args = [self.keys.p, request_id] if key is None else [self.keys.p, request_id, key]
        row = await self._poll_job(args=args)
        if not row:
            return None
        step = self._step()
        if step is not None and request_id in step.jobs:
            job = step.jobs[request_id][0]
            job.polls, job.phase_polls = int(row[2]), int(row[3])
            return job
        return self._job_of(row)

    async def _fetch_jobs(self, ids: list[bytes]) -> list[Job | None]:
        if not ids:
            return []
        async with self._r.pipeline(transaction=False) as pipe:
            for rid in ids:
                await self._get_job(args=[self.keys.p, rid], client=pipe)
            rows = await pipe.execute()
        return [self._job_of(row) if row else None for row in rows]

    @_guard
    async def list_jobs(
        self,
        *,
        status: Status | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Job]:
        keys, step = self.keys, self._step()
        limit = max(0, limit)
        if key is not None:
            index = keys.by_key(key)
        elif status is not None:
            index = keys.by_status(status.value)
        else:
            index = keys.order
        top = f"({int(cursor)}" if cursor is not None else "+inf"

        def wanted(job: Job) -> bool:
            return (status is None or job.status is status) and (key is None or job.key == key)

        found: list[Job] = []
        while len(found) <= limit:
            batch: list[Any] = await self._r.zrevrangebyscore(
                index, top, "-inf", start=0, num=max(_SCAN_BATCH, limit + 1), withscores=True
            )
            if not batch:
                break
            for job in await self._fetch_jobs([member for member, _ in batch]):
                if job is None:
                    continue
                if step is not None and job.request_id in step.jobs:
                    job = step.jobs[job.request_id][0]
                if wanted(job):
                    found.append(job)
            top = f"({int(batch[-1][1])}"
        if step is not None:
            below = int(cursor) if cursor is not None else None
            found += [
                job
                for job in step.created.values()
                if wanted(job) and (below is None or job.seq < below)
            ]
            found.sort(key=lambda j: j.seq, reverse=True)
        items = found[:limit]
        more = len(found) > limit and bool(items)
        return Page(
            items, await self._total(step, status, key), str(items[-1].seq) if more else None
        )

    async def _total(self, step: Step | None, status: Status | None, key: str | None) -> int:
        name = self.keys.counts if key is None else self.keys.key_counts(key)
        raw: dict[bytes, bytes] = await self._r.hgetall(name)  # type: ignore[assignment]
        counts = {Status(k.decode()): int(v) for k, v in raw.items()}
        if step is not None:
            for s in Status:
                counts[s] = counts.get(s, 0) + (
                    step.count_delta[s] if key is None else step.key_delta[key, s]
                )
        if status is not None:
            return counts.get(status, 0)
        return sum(counts.values())

    @_guard
    async def forget_expired(self, now: float) -> None:
        retention = self.retention  # one script, atomic on the server beside any replica's steps
        cutoff = now - retention.max_age_seconds
        await self._r.eval(EVICT, 0, self.keys.p, retention.max_jobs, repr(cutoff))

    @_guard
    async def job_counts(self) -> dict[Status, int]:
        raw: dict[bytes, bytes] = await self._r.hgetall(self.keys.counts)  # type: ignore[assignment]
        counts = dict.fromkeys(Status, 0)
        for name, value in raw.items():
            counts[Status(name.decode())] = int(value)
        step = self._step()
        if step is not None:
            for status, change in step.count_delta.items():
                counts[status] += change
        return counts

    @_guard
    async def active_jobs(self, key: str) -> int:
        count = int(await self._r.hget(self.keys.active, key) or 0)
        step = self._step()
        return count + (step.active_delta[key] if step is not None else 0)

    # wallets ----------------------------------------------------------------------------------

    async def _wallet(self, step: Step | None, key: str) -> WalletState | None:
        if step is not None and key in step.wallets:
            return step.wallets[key]
        row = await self._r.hmget(self.keys.wallet(key), ["balance", "held", "charged", "size"])
        state = _wallet_of(key, row)
        if step is not None and state is not None:
            step.wallets[key] = state
        return state

    async def _held(self, step: Step | None, key: str, request_id: str) -> Decimal | None:
        if step is not None and (key, request_id) in step.holds:
            return step.holds[key, request_id]
        raw = _text(await self._r.hget(self.keys.holds(key), request_id))
        return None if raw is None else Decimal(raw)

    async def _money(
        self, step: Step, key: str, request_id: str
    ) -> tuple[WalletState | None, Decimal | None]:
        """A wallet and the job's hold in it, read in one round trip where neither is cached."""
        if key in step.wallets or (key, request_id) in step.holds:
            return await self._wallet(step, key), await self._held(step, key, request_id)
        async with self._r.pipeline(transaction=False) as pipe:
            pipe.hmget(self.keys.wallet(key), ["balance", "held", "charged", "size"])
            pipe.hget(self.keys.holds(key), request_id)
            row, raw = await pipe.execute()
        state = _wallet_of(key, row)
        if state is not None:
            step.wallets[key] = state
        held = None if raw is None else Decimal(raw.decode())
        step.holds[key, request_id] = held
        return state, held

    @_guard
    async def get_wallet(self, key: str) -> WalletState | None:
        return await self._wallet(self._step(), key)

    @_guard
    async def open_wallet(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        async with self._stepping() as step:
            state = await self._wallet(step, key)
            if state is None:
                state = WalletState(key, Decimal(0))
                step.new_wallet(state, int(await self._r.incr(self.keys.wseq)))
                step.write_ledger(state, set_entry(state, balance, at, note), self._ledger_cap)
            return state

    @property
    def _ledger_cap(self) -> int:
        return self.retention.max_ledger_entries

    @_guard
    async def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState:
        async with self._stepping() as step:
            state = await self._wallet(step, key)
            if state is None:
                return await self.open_wallet(key, amount, at, note)
            step.write_ledger(state, set_entry(state, amount, at, note), self._ledger_cap)
            return state

    @_guard
    async def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        async with self._stepping() as step:
            state, held = await self._money(step, key, request_id)
            if state is None:
                raise KeyError(f"no wallet for {key!r}")
            if held is not None:
                return True  # held already: kept as it is
            entry = hold_entry(state, request_id, amount, at)
            if entry is None:
                return False
            step.set_hold(key, request_id, amount)
            step.write_ledger(state, entry, self._ledger_cap)
            return True

    @_guard
    async def held_for(self, key: str, request_id: str) -> Decimal | None:
        return await self._held(self._step(), key, request_id)

    @_guard
    async def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal] | None:
        async with self._stepping() as step:
            state, held = await self._money(step, key, request_id)
            if state is None or held is None:
                return None
            entry = capture_entry(state, request_id, held, at)
            step.set_hold(key, request_id, None)
            step.write_ledger(state, entry, self._ledger_cap)
            return entry.amount, held

    @_guard
    async def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        async with self._stepping() as step:
            state, held = await self._money(step, key, request_id)
            if state is None:
                return Decimal(0)
            if held is None:
                return Decimal(0)
            step.set_hold(key, request_id, None)
            step.write_ledger(
                state, release_entry(state, request_id, held, at, note), self._ledger_cap
            )
            return held

    @_guard
    async def ledger(
        self, key: str, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[LedgerEntry]:
        keys, step = self.keys, self._step()
        async with self._r.pipeline(transaction=True) as pipe:
            pipe.hget(keys.wallet(key), "size")
            pipe.llen(keys.ledger(key))
            size_raw, kept = await pipe.execute()
        if size_raw is None and (step is None or key not in step.wallets):
            return Page([], 0)
        size = int(size_raw or 0)
        first = size - int(kept)  # the number of the oldest entry kept
        start = max(0, int(cursor) - first) if cursor is not None else 0
        limit = max(0, limit)
        rows: list[bytes] = (
            await self._r.lrange(keys.ledger(key), start, start + limit - 1)  # type: ignore[assignment]
            if limit
            else []
        )
        items = [_ledger_entry(row) for row in rows]
        total = int(kept)
        pending = step.ledger.get(key, []) if step is not None else []
        if pending:  # this step's own rows come after the stored tail
            skip = max(0, start - int(kept))
            items += pending[skip : skip + limit - len(items)]
            total = min(total + len(pending), self._ledger_cap)
        end = start + len(items)
        return Page(items, total, str(first + end) if end < total else None)

    @_guard
    async def list_wallets(
        self, *, limit: int = 1000, cursor: str | None = None
    ) -> Page[WalletState]:
        keys, step = self.keys, self._step()
        low = f"({int(cursor)}" if cursor is not None else "-inf"
        limit = max(0, limit)
        found: list[Any] = await self._r.zrangebyscore(
            keys.wallets, low, "+inf", start=0, num=limit + 1, withscores=True
        )
        async with self._r.pipeline(transaction=False) as pipe:
            for member, _ in found:
                pipe.hmget(keys.wallet(member.decode()), ["balance", "held", "charged", "size"])
            rows = await pipe.execute()
        pairs: list[tuple[int, WalletState]] = []
        for (member, order), row in zip(found, rows, strict=True):
            name = member.decode()
            state = step.wallets.get(name) if step is not None else None
            state = state or _wallet_of(name, row)
            if state is not None:
                pairs.append((int(order), state))
        total = int(await self._r.zcard(keys.wallets))
        if step is not None:
            floor = int(cursor) if cursor is not None else 0
            pairs += [(o, step.wallets[k]) for k, o in step.new_wallets.items() if o > floor]
            pairs.sort(key=lambda pair: pair[0])
            total += len(step.new_wallets)
        items = pairs[:limit]
        more = len(pairs) > limit and bool(items)
        return Page([s for _, s in items], total, str(items[-1][0]) if more else None)

    @_guard
    async def wallet_count(self) -> int:
        step = self._step()
        total = int(await self._r.zcard(self.keys.wallets))
        return total + (len(step.new_wallets) if step is not None else 0)

    # media ------------------------------------------------------------------------------------

    @_guard
    async def put_media(self, request_id: str, media: RenderedMedia) -> None:
        step = self._step()
        if step is not None:
            step.media[request_id] = media
            return
        await self._put_media(
            args=[
                self.keys.p,
                request_id,
                media_digest(media),
                media.data,
                media.content_type,
                media.etag,
                self.retention.max_media_bytes,
            ]
        )

    @_guard
    async def get_media(self, request_id: str) -> RenderedMedia | None:
        step = self._step()
        if step is not None and request_id in step.media:
            return step.media[request_id]
        row = await self._get_media(args=[self.keys.p, request_id])
        if not row:
            return None
        content_type, etag, data = row
        return RenderedMedia(data=data, content_type=content_type.decode(), etag=etag.decode())

    # webhook deliveries -----------------------------------------------------------------------

    @_guard
    async def save_delivery(self, delivery: DeliveryRecord) -> None:
        async with self._stepping() as step:
            before = step.tallies.get(delivery.id)
            if before is None:
                raw = await self._r.get(self.keys.delivery(delivery.id))
                if raw is not None:
                    before = tally(DeliveryRecord.from_dict(json.loads(raw)))
                elif await self._stored_status(step, delivery.request_id) is None:
                    return  # its job is not stored (forgotten, or never made)
            step.save_delivery(delivery, before)

    @_guard
    async def get_delivery(self, delivery_id: str) -> DeliveryRecord | None:
        step = self._step()
        if step is not None and delivery_id in step.deliveries:
            return step.deliveries[delivery_id][0]
        raw = await self._r.get(self.keys.delivery(delivery_id))
        return None if raw is None else DeliveryRecord.from_dict(json.loads(raw))

    @_guard
    async def deliveries_of(self, request_id: str) -> list[DeliveryRecord]:
        step = self._step()
        stored: list[bytes] = await self._r.lrange(  # type: ignore[assignment]
            self.keys.deliveries_of(request_id), 0, -1
        )
        ids = [i.decode() for i in stored]
        if step is not None:
            ids += step.new_deliveries.get(request_id, [])
        if not ids:
            return []
        raws = await self._r.mget([self.keys.delivery(i) for i in ids])
        found: list[DeliveryRecord] = []
        for delivery_id, raw in zip(ids, raws, strict=True):
            if step is not None and delivery_id in step.deliveries:
                found.append(step.deliveries[delivery_id][0])
            elif raw is not None:
                found.append(DeliveryRecord.from_dict(json.loads(raw)))
        return found

    @_guard
    async def delivery_outcomes(self) -> dict[str, int]:
        raw: dict[bytes, bytes] = await self._r.hgetall(self.keys.douts)  # type: ignore[assignment]
        counts = {k.decode(): int(v) for k, v in raw.items()}
        step = self._step()
        if step is not None:
            for name, change in step.outcome_delta.items():
                counts[name] = counts.get(name, 0) + change
        return {name: n for name, n in counts.items() if n > 0}

    # timed work -------------------------------------------------------------------------------

    def _task_member(self, kind: TaskKind, ref: str) -> str:
        """Unique across replicas; tasks due at one time come out in the order they were added
        (within a process exactly, across processes by wall clock)."""
        self._task_clock = max(self._task_clock + 1, time.time_ns())
        return f"{self._task_clock:020d}.{self._events.origin}|{kind.value}|{ref}"

    @_guard
    async def schedule(self, due: float, kind: TaskKind, ref: str) -> None:
        keys, step = self.keys, self._step()
        member = self._task_member(kind, ref)
        if step is not None:
            step.scheduled.append(due)
        await self._run(
            step,
            lambda p: p.zadd(keys.tasks, {member: due}),
            lambda p: p.hset(keys.tdue, member, repr(due)),
        )

    @_guard
    async def next_due(self) -> float | None:
        raw = await self._next_due(args=[self.keys.p])
        due = None if raw is None else float(raw)
        step = self._step()
        if step is not None and step.scheduled:
            mine = min(step.scheduled)
            due = mine if due is None else min(due, mine)
        return due

    @_guard
    async def claim_due(self, now: float, limit: int = 256) -> list[Task]:
        lease_ms = max(1, int(self.lease_seconds * 1000))
        lease, *items = await self._claim(args=[self.keys.p, repr(now), max(0, limit), lease_ms])
        return [_task_of(items[i], items[i + 1], int(lease)) for i in range(0, len(items), 2)]

    @_guard
    async def ack(self, task: Task) -> None:
        keys, member = self.keys, task.id
        await self._run(
            self._step(),
            lambda p: p.zrem(keys.leased, member),
            lambda p: p.zrem(keys.tasks, member),
            lambda p: p.hdel(keys.tdue, member),
        )

    @_guard
    async def unclaim(self, tasks: list[Task]) -> None:
        if tasks:  # their leases lapse now; an acknowledged task has no lease left to lapse
            pairs = [value for task in tasks for value in (task.id, task.lease)]
            await self._unclaim(args=[self.keys.p, *pairs])

    @_guard
    async def pending_tasks(self) -> int:
        count = int(await self._r.zcard(self.keys.tasks))
        step = self._step()
        return count + (len(step.scheduled) if step is not None else 0)

    # counters and buckets ---------------------------------------------------------------------

    @_guard
    async def incr(self, name: str) -> int:
        return int(await self._r.incr(self.keys.counter(name)))

    @_guard
    async def take_token(self, bucket: str, rate: float, burst: int, now: float) -> float | None:
        wait = await self._take_token(
            keys=[self.keys.bucket(bucket)], args=[repr(float(rate)), burst, repr(float(now))]
        )
        return None if wait is None else float(wait)

    # journal ----------------------------------------------------------------------------------

    def journal_append(self, build: Builder, *pieces: Any, size: int = 0) -> None:
        self._journal.append(build, pieces)

    @_guard
    async def journal_entries(
        self, *, since: int = 0, limit: int | None = None
    ) -> list[JournalEntry]:
        return await self._journal.entries(since, limit, self.socket_timeout)

    @_guard
    async def journal_stats(self) -> JournalStats:
        return await self._journal.stats(self.socket_timeout)

    @_guard
    async def journal_clear(self) -> None:
        await self._journal.clear()


__all__ = ["RedisStore"]
