"""The gateway as a service, without HTTP: its services over one store, and the clock that drives
them.

:class:`Gateway` wires :class:`~mockgateway._accounts.Accounts` (keys and money),
:class:`~mockgateway._lifecycle.Lifecycle` (jobs), :class:`~mockgateway._delivery.Webhooks`
(callbacks and their fault policy) and the operator's controls over one
:class:`~mockgateway.store.Store`, which holds every piece of state. The web edge
(:mod:`mockgateway.web`) parses a request, calls one of them and serialises the answer. Timed work
is the store's; :meth:`Gateway.run_forever` runs it when it is due on the gateway clock.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._accounts import Accounts
from ._clock import Clock, ManualClock, ScaledClock, make_clock
from ._config import GatewayConfig
from ._delivery import Webhooks
from ._errors import Conflict
from ._jobs import billing_record
from ._journal import JournalEntry
from ._lifecycle import Lifecycle
from ._scheduler import Scheduler
from ._timeline import Timeline
from ._webhooks import Sender, SendResult
from .faults import FaultEngine, FaultsConfig, LocalCounters, StoreCounters, faults_from_mapping
from .media import AvPipeline, MediaPipeline
from .store import Event, MemoryStore, Store, StoreError, StoreUnavailable, Task, make_store

SHARED_POLL_SECONDS = 0.05  # how often a replica looks for work another one scheduled
STORE_RETRY_SECONDS = 0.5  # how soon the runner looks again when the store is out of reach
# Ended jobs past the retention age go as other jobs end, and at least this often (gateway
# seconds; or a tenth of the age, when that is shorter) on a gateway where none do; never more
# often than once a real second (a clock scaled a million times would look every 60 us).
SWEEP_SECONDS = 60.0
SWEEP_REAL_SECONDS = 1.0
# meta kept in the store: the manual clock's time, a scaled clock's anchor, the runtime scenario
CLOCK = "clock"
MAX_CLOCK = 253_402_300_799.0  # 9999-12-31T23:59:59Z: the last second a timestamp can show
CLOCK_ANCHOR = "clock_anchor"
CLOCK_KIND = "clock_kind"
SCENARIO = "scenario"


log = logging.getLogger("mockgateway")


def sweep_interval(max_age_seconds: float, clock: Clock) -> float:
    """Gateway seconds between looks for jobs past the retention age (see SWEEP_SECONDS)."""
    every = min(SWEEP_SECONDS, max_age_seconds / 10)
    per_gateway_second = clock.real_delay(1.0)  # real seconds; None: only a hand moves it
    if per_gateway_second:
        every = max(every, SWEEP_REAL_SECONDS / per_gateway_second)
    return max(every, 1e-3)


class Gateway:
    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        clock: Clock | None = None,
        media: MediaPipeline | None = None,
        webhook_sender: Sender | None = None,
        store: Store | None = None,
    ) -> None:
        self.config = config = config or GatewayConfig()
        self.clock = clock or make_clock(config.clock.mode, config.clock.speed)
        self.scheduler = Scheduler(self.clock)  # this process's own waits (latency, dribbles)
        journal = config.journal
        self.store: Store = store or make_store(
            config.state,
            journal_enabled=journal.enabled,
            journal_max_entries=journal.max_entries,
            journal_max_bytes=journal.max_bytes,
            journal_max_body_bytes=journal.max_body_bytes,
        )
        if media is None:
            server = config.server
            own = (server.public_base_url, server.media_base_url)
            media = AvPipeline(
                config.inputs,
                config.media,
                own_hosts=tuple(h for h in (urlsplit(u).hostname for u in own if u) if h),
            )
        self.media = media
        lifecycle = config.lifecycle
        self.faults = FaultEngine(
            config.faults,
            queue_seconds=lifecycle.queue_seconds,
            processing_seconds=lifecycle.processing_seconds,
            counters=LocalCounters() if self.store.kind == "memory" else StoreCounters(self.store),
        )
        self.accounts = Accounts(
            config,
            self.store,
            self.clock,
            lambda key: self.faults.scenario_of(key, None) is not None,
        )
        self.timeline = Timeline(self.store)
        self.webhooks = Webhooks(
            config.webhooks,
            store=self.store,
            clock=self.clock,
            faults=self.faults,
            send=webhook_sender or _refuse_send,
            timeline=self.timeline,
        )
        self.lifecycle = Lifecycle(
            config,
            store=self.store,
            clock=self.clock,
            accounts=self.accounts,
            faults=self.faults,
            media=self.media,
            webhooks=self.webhooks,
            timeline=self.timeline,
        )
        self._sweep_every = sweep_interval(config.state.retention.max_age_seconds, self.clock)
        self._next_sweep = -math.inf  # the first run looks at once (a store kept from before)
        self._wake = asyncio.Event()
        self._running = asyncio.Lock()
        self._advancing = asyncio.Lock()
        # New work due before this gateway time wakes the runner (work due now always does):
        # +inf while it runs, its next look while it waits, -inf while it waits on a manual
        # clock (whose moves wake it).
        self._wake_before = math.inf
        self.timeline.on_scheduled(self._scheduled)
        self._opened = False
        self._outage: str | None = None  # why timed work waits for the store, while it does
        self._unreturned: list[Task] = []  # claimed, not run, not yet given back to the store
        self._document: dict[str, Any] | None = None  # the runtime scenario as sent, if any
        self._source: str | None = None
        if isinstance(self.clock, ManualClock):
            self.clock.on_change(self._wake.set)

    # life -------------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the store, open the configured wallets and carry on unfinished work."""
        if self._opened:
            return
        store = self.store
        await store.open()
        self._opened = True
        store.on_event(self._on_event)
        await self._take_up_clock()
        scenario = await store.get_meta(SCENARIO)
        if scenario is not None:  # set at runtime before a restart, or by another replica
            self._use_scenario(scenario)
        await self.accounts.open_configured()
        await self.lifecycle.recover()

    async def _take_up_clock(self) -> None:
        """A clock kept by the store (a restart, replicas) runs on from where it was; replicas
        sharing a store must keep one clock, so one of another kind is refused."""
        clock, store = self.clock, self.store
        kind = json.dumps({"mode": clock.mode.value, "speed": getattr(clock, "speed", 1.0)})
        if store.shared:
            shared = await store.get_meta(CLOCK_KIND)
            if shared is None:
                await store.set_meta(CLOCK_KIND, kind)
            elif json.loads(shared) != json.loads(kind):
                theirs = json.loads(shared)
                raise StoreError(
                    f"the replicas on this store run a {theirs['mode']} clock at speed"
                    f" {theirs['speed']:g}; this one would run a {clock.mode.value} clock at speed"
                    f" {json.loads(kind)['speed']:g}: give every replica the same [clock] (or use"
                    " another Redis database)",
                    setting="clock.mode",
                )
        if isinstance(clock, ManualClock):
            kept = await store.get_meta(CLOCK)
            if kept is not None:  # where it stood: a manual clock never moves by itself
                clock.resume(float(kept))
            else:
                await store.set_meta(CLOCK, repr(clock.now()))
        elif isinstance(clock, ScaledClock):
            kept = await store.get_meta(CLOCK_ANCHOR)
            if kept is not None:
                gateway_at, wall_at = json.loads(kept)
                clock.resume(gateway_at, wall_at)
            else:
                await store.set_meta(CLOCK_ANCHOR, json.dumps(clock.anchor()))

    def _on_event(self, event: Event) -> None:
        """What another replica did that this process must follow."""
        name, value = event
        if name == "clock" and isinstance(self.clock, ManualClock):
            self.clock.restore(float(value))
        elif name == "scenario":
            self._use_scenario(value)
        elif name == "reset":
            self.lifecycle.cancel()
            self.webhooks.cancel()
            self.scheduler.clear()
            self._use_scenario(value)
        self._wake.set()

    def _use_scenario(self, kept: str) -> None:
        data = json.loads(kept)
        document = data.get("document")
        config = (
            self.faults.initial
            if document is None
            else faults_from_mapping(document, data.get("source") or "PUT /_mock/scenario")
        )
        self.faults.use(config)
        counters = self.faults.counters
        if isinstance(counters, StoreCounters):
            counters.generation = int(data.get("generation", 0))

    async def close(self) -> None:
        self.lifecycle.cancel()
        self.webhooks.cancel()
        await asyncio.gather(*self.lifecycle.working, return_exceptions=True)
        await self.media.close()
        if self._opened:
            await self.store.close()
            self._opened = False

    # timed work -------------------------------------------------------------------------------

    async def run_due(self) -> int:
        """Run every task due by now, earliest first (tasks may add more); return the count."""
        ran = 0
        store = self.store
        async with self._running:  # the runner and an advance never run tasks at once
            if self._unreturned:  # given back once the store serves again, not after their lease
                await store.unclaim(self._unreturned)
                self._unreturned.clear()
            while tasks := await store.claim_due(self.clock.now()):
                for done, task in enumerate(tasks):
                    try:
                        await self.lifecycle.run_task(task)
                    except StoreUnavailable:  # this one and the rest run when the store is back
                        await self._give_back(tasks[done:])
                        raise
                    except Exception:  # a faulty task is not run again; the rest are
                        await self._give_back(tasks[done + 1 :])
                        raise
                    ran += 1
            if (now := self.clock.now()) >= self._next_sweep:
                await store.forget_expired(now)
                self._next_sweep = now + self._sweep_every
        return ran

    def _scheduled(self, due: float) -> None:
        """New timed work: the runner is woken unless it will look for work by ``due`` anyway
        (a manual clock's runner: unless it is due now). Most jobs are due when the ones before
        them are, so most submits wake nothing."""
        if due < self._wake_before or due <= self.clock.now():
            self._wake.set()

    async def _give_back(self, tasks: list[Task]) -> None:
        """Claimed tasks not run: handed out again. A store still out of reach gets them back
        when it serves again (Redis: unless their lease ran out first and another replica took
        them); a process that stops first leaves them to the lease, or to the next start."""
        try:
            await self.store.unclaim(tasks)
        except StoreUnavailable:
            self._unreturned.extend(tasks)

    async def run_forever(self) -> None:
        """Run due work as the gateway clock reaches it (woken early by new work or the clock)."""
        store = self.store
        while True:
            if (task := asyncio.current_task()) is not None and task.cancelling():
                raise asyncio.CancelledError  # a cancel something below swallowed still stops it
            self._wake.clear()
            try:
                await self.run_due()
                due = await store.next_due()
            except StoreUnavailable as lost:  # for now: look again shortly, never give up
                if self._outage is None:  # said once an outage, not on every look
                    log.warning("timed work waits for the state store (%s); retrying", lost)
                self._outage = str(lost)
                await asyncio.sleep(STORE_RETRY_SECONDS)
                continue
            except Exception:  # one faulty task must not stop the gateway's time
                log.exception("timed work failed")
                await asyncio.sleep(0)
                continue
            if self._outage is not None:
                log.warning("the state store serves again; timed work goes on")
                self._outage = None
            due = self._next_sweep if due is None else min(due, self._next_sweep)
            wait = self.clock.real_delay(due - self.clock.now())
            self._wake_before = -math.inf if wait is None else due
            if store.shared:
                wait = SHARED_POLL_SECONDS if wait is None else min(wait, SHARED_POLL_SECONDS)
            # asyncio.wait, not wait_for: a cancel arriving as the wake fires must not be lost
            # (Python 3.11's wait_for can swallow it, and then SIGTERM never stops the runner)
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait((woken,), timeout=wait)
            finally:
                self._wake_before = math.inf
                woken.cancel()

    async def settle(self, rounds: int = 50) -> None:
        """Run due work and wait for in-flight tasks until nothing more happens now."""
        for _ in range(rounds):
            if self.scheduler.run_due() or await self.run_due():
                # What those entries woke (an answer held on gateway time) takes its turn now,
                # not whenever the caller next yields: without it, a caller advancing in a loop
                # until nothing waits would never let a held answer go.
                await asyncio.sleep(0)
            working = self.lifecycle.working
            if not working and not self.webhooks.busy:
                if not await self.run_due():
                    return
                continue
            await asyncio.gather(*working, return_exceptions=True)
            await self.webhooks.drain()

    async def next_due(self) -> float | None:
        local = self.scheduler.next_due()
        stored = await self.store.next_due()
        return min((d for d in (local, stored) if d is not None), default=None)

    async def advance(self, seconds: float) -> float:
        """Move a manual clock forward, stopping at each due entry so each runs at its own time."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            raise Conflict('the clock is not manual; set clock.mode = "manual"')
        if clock.now() + seconds > MAX_CLOCK:
            raise Conflict(
                f"the clock cannot go past {MAX_CLOCK:,.0f} (the end of year 9999): it stands at"
                f" {clock.now():,.3f}"
            )
        async with self._advancing:  # advances one at a time, each from where the last ended
            return await self._advance(clock, seconds)

    async def _advance(self, clock: ManualClock, seconds: float) -> float:
        target = min(clock.now() + seconds, MAX_CLOCK)
        await self.settle()
        while (due := await self.next_due()) is not None and due <= target:
            await self._set_clock(clock, max(due, clock.now()))
            await self.settle()
        await self._set_clock(clock, target)
        await self.settle()
        # Other replicas move when this one has run all that became due on the way: the replica
        # asked runs it, each task at its own time, and none runs it early or late beside it.
        await self.store.publish(("clock", repr(clock.now())))
        return clock.now()

    async def _set_clock(self, clock: ManualClock, when: float) -> None:
        """Keep the manual clock's new time in the store, then move it (a store that refuses the
        write leaves the clock where it stood)."""
        if self.store.kind != "memory":
            await self.store.set_meta(CLOCK, repr(when))
        clock.set(when)

    # operator controls ------------------------------------------------------------------------

    async def reset(self) -> None:
        """Forget every job, wallet, delivery, count and journal entry: one call to the store."""
        self.lifecycle.cancel()
        self.webhooks.cancel()
        self.scheduler.clear()
        await self.store.reset()
        self._unreturned.clear()  # forgotten with the rest
        await self.faults.reset()
        await self.accounts.open_configured()
        await self.store.publish(("reset", await self._keep_scenario()))

    async def journal(self) -> list[JournalEntry]:
        """Every journal entry kept, oldest first (from every process sharing the store)."""
        return await self.store.journal_entries()

    async def bills(self) -> dict[str, dict[str, Any]]:
        """Each job's billing record by request id, every job kept."""
        bills: dict[str, dict[str, Any]] = {}
        cursor: str | None = None
        while True:
            page = await self.store.list_jobs(limit=1000, cursor=cursor)
            bills.update((job.request_id, billing_record(job)) for job in page.items)
            if (cursor := page.next_cursor) is None:
                return bills

    @property
    def waiting(self) -> int:
        """How many answers are held on gateway time right now (latency, dribbled bodies)."""
        return self.scheduler.sleeping

    async def set_scenario(
        self, scenario: FaultsConfig | None, document: Mapping[str, Any] | None = None
    ) -> None:
        """Use ``scenario`` from now on (None: the one loaded at start), counters from zero.

        ``document`` is the scenario as the operator sent it: the store keeps it, so a restart and
        every replica use it too. Jobs already planned keep their timeline; new requests and jobs
        follow the new scenario.
        """
        self._document = None if scenario is None else dict(document or {})
        self._source = None if scenario is None else scenario.source
        await self.faults.load(scenario or self.faults.initial)
        await self.store.publish(("scenario", await self._keep_scenario()))

    async def _keep_scenario(self) -> str:
        counters = self.faults.counters
        generation = counters.generation if isinstance(counters, StoreCounters) else 0
        kept = json.dumps(
            {"document": self._document, "source": self._source, "generation": generation}
        )
        await self.store.set_meta(SCENARIO, kept)
        return kept


async def _refuse_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
    return SendResult(None, error="no webhook sender configured")


async def open_gateway(config: GatewayConfig | None = None, **options: Any) -> Gateway:
    """A gateway with its store opened (for tests and embedding without a server)."""
    gateway = Gateway(config, **options)
    await gateway.open()
    return gateway


__all__ = ["Gateway", "MemoryStore", "open_gateway"]
