"""The gateway as a service, without HTTP: keys, wallets, models, jobs and their timeline.

The aiohttp edge (:mod:`mockgateway.web`) parses a request, calls one method here and serialises
the answer. Every phase change is a scheduler entry on the gateway clock; the only tasks are real
work (fetching, probing and rendering media; sending webhooks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ._billing import InsufficientFunds, Wallet, cost_of, money_str
from ._clock import Clock, ManualClock, make_clock
from ._config import GatewayConfig, KeyMode, ModelConfig
from ._errors import (
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_BALANCE_MESSAGE,
    ApiError,
    gateway_error,
    insufficient_balance,
    internal_error,
    invalid_key,
    missing_key,
    model_not_found,
    request_not_found,
    service_unavailable,
)
from ._ids import new_request_id
from ._jobs import Job, Status, billing_record, rendered_status, status_body
from ._journal import Journal
from ._scheduler import Scheduler
from ._validation import GenerateRequest
from ._webhooks import Sender, SendResult, WebhookDispatcher
from .faults import FaultEngine, FaultsConfig, JobPlan
from .media import AvPipeline, InputRejected, JobInputs, MediaPipeline, RenderedMedia

log = logging.getLogger("mockgateway")

INSUFFICIENT_BALANCE_ERROR = f"{INSUFFICIENT_BALANCE}: {INSUFFICIENT_BALANCE_MESSAGE}"


@dataclass(slots=True)
class _Work:
    """What the processing phase has found so far for one job."""

    outcome: Status | None = None
    error: str | None = None
    media: asyncio.Future[RenderedMedia] | None = None  # the render, begun once the job is priced
    deadline_passed: bool = False
    started: float = 0.0  # gateway time the processing phase began
    extended: bool = False  # the deadline has taken the output's length into account


class Gateway:
    def __init__(
        self,
        config: GatewayConfig | None = None,
        *,
        clock: Clock | None = None,
        media: MediaPipeline | None = None,
        webhook_sender: Sender | None = None,
    ) -> None:
        self.config = config or GatewayConfig()
        self.clock = clock or make_clock(self.config.clock.mode, self.config.clock.speed)
        self.scheduler = Scheduler(self.clock)
        journal = self.config.journal
        self.journal = Journal(
            journal.max_entries,
            enabled=journal.enabled,
            max_bytes=journal.max_bytes,
            max_body_bytes=journal.max_body_bytes,
        )
        if media is None:
            server = self.config.server
            own = (server.public_base_url, server.media_base_url)
            media = AvPipeline(
                self.config.inputs,
                self.config.media,
                own_hosts=tuple(h for h in (urlsplit(u).hostname for u in own if u) if h),
            )
        self.media = media
        self.webhooks = WebhookDispatcher(
            self.config.webhooks,
            clock=self.clock,
            scheduler=self.scheduler,
            journal=self.journal,
            send=webhook_sender or _refuse_send,
        )
        lifecycle = self.config.lifecycle
        self.faults = FaultEngine(
            self.config.faults,
            queue_seconds=lifecycle.queue_seconds,
            processing_seconds=lifecycle.processing_seconds,
        )
        self.webhooks.time_scale = self.faults.time_scale
        self._plans: dict[str, JobPlan] = {}
        self._phase_polls: dict[str, int] = {}
        self._held_webhooks: dict[str, list[dict[str, Any]]] = {}
        self.models: dict[str, ModelConfig] = {m.id: m for m in self.config.models}
        self.jobs: dict[str, Job] = {}
        self.wallets: dict[str, Wallet] = {}
        self.media_files: dict[str, asyncio.Future[RenderedMedia]] = {}
        self._work: dict[str, _Work] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[Job], None]] = []
        self._reset_wallets()

    # keys and wallets -------------------------------------------------------------------------

    def _reset_wallets(self) -> None:
        self.wallets.clear()
        now = self.clock.now()
        for account in self.config.keys.accounts:
            wallet = Wallet(account.key, Decimal(0))
            wallet.set_balance(account.balance, now, "configured")
            self.wallets[account.key] = wallet

    def authenticate(self, key: str | None) -> Wallet:
        """The wallet of a valid key, or the API-management 401 for a missing or unknown one."""
        return self.wallet(self.admit(key))

    def admit(self, key: str | None) -> str:
        """A valid key, or the 401 :meth:`authenticate` gives, without opening a wallet for it: a
        status poll needs none, and one per key a client makes up would grow without bound."""
        if key is None or not key.strip():
            raise missing_key()
        if key in self.wallets:
            return key
        if self.config.keys.mode is KeyMode.STRICT and self.faults.scenario_of(key, None) is None:
            raise invalid_key()  # scenario keys (mock-<name>) are test cards, valid in any mode
        return key

    def wallet(self, key: str) -> Wallet:
        """The key's wallet, made with the default balance on first use."""
        wallet = self.wallets.get(key)
        if wallet is None:
            wallet = Wallet(key, Decimal(0))
            wallet.set_balance(self.config.keys.default_balance, self.clock.now(), "opened")
            self.wallets[key] = wallet
        return wallet

    def set_balance(self, key: str, amount: Decimal) -> Wallet:
        wallet = self.wallet(key)
        wallet.set_balance(amount, self.clock.now(), "set by operator")
        return wallet

    # requests ---------------------------------------------------------------------------------

    def model(self, model_id: str) -> ModelConfig:
        model = self.models.get(model_id)
        if model is None or not model.enabled:
            raise model_not_found(model_id)
        return model

    def submit(
        self,
        wallet: Wallet,
        model: ModelConfig,
        request: GenerateRequest,
        *,
        webhook_url: str | None,
        media_base_url: str,
        scenario: str | None = None,
    ) -> Job:
        """Queue a job. The wallet must cover at least one billable second ([mock]).

        Its phase durations and any injected end come from the fault engine's plan.
        """
        if self.faults.config.rate_limits.concurrent_jobs:
            jobs = self.jobs.values()
            active = sum(1 for j in jobs if j.key == wallet.key and not j.status.terminal)
            if (too_many := self.faults.concurrency_limit(active)) is not None:
                raise too_many
        if not wallet.can_cover(model.price_per_second):
            raise insufficient_balance()
        now = self.clock.now()
        request_id = new_request_id(model.id, now)
        job = Job(
            request_id=request_id,
            model_id=model.id,
            key=wallet.key,
            image_url=request.image_url,
            audio_url=request.audio_url,
            resolution=request.resolution,
            created_at=now,
            updated_at=now,
            media_type=self.config.lifecycle.media_type,
            webhook_url=webhook_url,
            extra_fields=request.extra_fields,
        )
        job.history.append((Status.QUEUED, now))
        job.media_urls = (
            f"{media_base_url}/v1/{request_id}/{self.config.lifecycle.output_filename}",
        )
        self.jobs[request_id] = job
        plan = self._plans[request_id] = self.faults.plan_job(
            wallet.key, model.id, scenario, request.resolution
        )
        self._phase_polls[request_id] = 0
        if plan.queue_seconds is not None:
            self.scheduler.call_later(plan.queue_seconds, lambda: self.start_processing(job))
        return job

    def input_notes(self, job: Job) -> tuple[str, ...]:
        """What the media pipeline says about a job's inputs before fetching them (for example
        that a bundled sample will stand in), for the generate request's journal entry."""
        notes = getattr(self.media, "input_notes", None)
        return tuple(notes(job.image_url, job.audio_url)) if notes is not None else ()

    def plan_notes(self, job: Job) -> tuple[str, ...]:
        """The scenario's plan for a new job, when a rule decided its end (for the journal)."""
        plan = self._plans.get(job.request_id)
        if plan is None or plan.end is None:
            return ()
        end = plan.end
        rule = f"fault rule {plan.fired[0]!r}: " if plan.fired else ""
        return (f"{rule}the job will end {end.status} at {end.at}",)

    def job_for(self, key: str, request_id: str) -> Job:
        """A key sees only its own jobs; anyone else's answer as unknown ([mock], no leak)."""
        job = self.jobs.get(request_id)
        if job is None or job.key != key:
            raise request_not_found(request_id)
        return job

    def poll(self, key: str, request_id: str) -> tuple[dict[str, Any], bytes]:
        """The status body (and its bytes) a key sees for one of its requests."""
        job = self.job_for(key, request_id)
        job.polls += 1
        answer = rendered_status(job)
        if self.faults.poll_driven:
            self._count_poll(job)
        return answer

    def _count_poll(self, job: Job) -> None:
        """Poll-driven phases: the job leaves its phase right after its N-th poll there."""
        delays = self.faults.config.delays
        needed = {Status.QUEUED: delays.queue_polls, Status.PROCESSING: delays.processing_polls}
        wanted = needed.get(job.status, 0)
        if not wanted or job.request_id not in self._phase_polls:
            return
        self._phase_polls[job.request_id] += 1
        if self._phase_polls[job.request_id] < wanted:
            return
        if job.status is Status.QUEUED:
            self.start_processing(job)
        elif (work := self._work.get(job.request_id)) is not None:
            self._deadline(job, work)

    async def media_file(self, request_id: str) -> RenderedMedia:
        """A completed job's video; one still rendering when its job completed is waited for."""
        media = self.media_files.get(request_id)
        if media is None:
            raise gateway_error(404, "Not Found", f"No media for request '{request_id}'")
        try:
            return await asyncio.shield(media)
        except asyncio.CancelledError:
            if media.cancelled():  # the gateway is closing
                raise service_unavailable() from None
            raise
        except Exception:
            raise internal_error() from None

    # lifecycle --------------------------------------------------------------------------------

    def on_transition(self, listener: Callable[[Job], None]) -> None:
        self._listeners.append(listener)

    def _move(self, job: Job, target: Status, error: str | None = None) -> None:
        job.move(target, self.clock.now(), error=error)
        self._phase_polls[job.request_id] = 0
        for listener in self._listeners:
            listener(job)
        if (self.config.webhooks.per_transition or target.terminal) and job.webhook_url:
            self._send_webhook(job, job.webhook_url, status_body(job))
        if target.terminal:  # the plan has served its purpose
            self._plans.pop(job.request_id, None)
            self._phase_polls.pop(job.request_id, None)

    def _send_webhook(self, job: Job, url: str, body: dict[str, Any]) -> None:
        """Dispatch one callback as the webhook fault rules say (drop, delay, copies, order)."""
        plan = self._plans.get(job.request_id)
        scenario = plan.scenario if plan else None
        webhook = self.faults.plan_webhook(job.key, job.model_id, body["status"], scenario)
        if webhook.drop:
            rules = ", ".join(webhook.fired) or "a webhook_drop rule"
            job.notes += (f"webhook for {body['status']} to {url} dropped by fault ({rules})",)
            return
        held = self._held_webhooks.setdefault(job.request_id, []) if webhook.reorder else None
        if held is not None and not job.status.terminal:
            held.append(body)
            return
        bodies = [body]
        if held is not None or job.request_id in self._held_webhooks:
            bodies += reversed(self._held_webhooks.pop(job.request_id, []))
        # one scaled tenth of a second apart, so the receiver sees them in this order
        step = self.faults.scale(0.1)
        ended = job.status.terminal and body.get("status") == job.status.value
        for i, item in enumerate(bodies):
            billing = billing_record(job) if ended and item is body else None
            for _ in range(webhook.copies):
                self.webhooks.dispatch(
                    job.request_id, url, item, job.key, delay=webhook.delay + i * step,
                    billing=billing,
                )  # fmt: skip

    def start_processing(self, job: Job) -> None:
        if job.status is not Status.QUEUED:
            return
        plan = self._plans.get(job.request_id)
        if plan is not None and plan.end is not None and plan.end.at == Status.QUEUED.value:
            self.finish(job, Status(plan.end.status), plan.end.message)
            return
        self._move(job, Status.PROCESSING)
        work = _Work(started=self.clock.now())
        self._work[job.request_id] = work
        self._spawn(self._process(job, work))
        seconds = plan.processing_seconds if plan else self.config.lifecycle.processing_seconds
        if seconds is not None:
            self.scheduler.call_later(seconds, lambda: self._deadline(job, work))

    def _deadline(self, job: Job, work: _Work) -> None:
        work.deadline_passed = True
        self._settle(job, work)

    def _settle(self, job: Job, work: _Work) -> None:
        """End the job once both its processing time has passed and its work is done."""
        if not (work.deadline_passed and work.outcome) or job.status is not Status.PROCESSING:
            return
        plan = self._plans.get(job.request_id)
        if plan is not None and self._wait_for_length(job, work, plan):
            return
        self._work.pop(job.request_id, None)
        if plan is not None and plan.end is not None:
            self.finish(job, Status(plan.end.status), plan.end.message)
        elif work.outcome is Status.COMPLETED:
            self.finish(job, Status.COMPLETED, media=work.media)
        else:
            self.finish(job, work.outcome, work.error)

    def _wait_for_length(self, job: Job, work: _Work, plan: JobPlan) -> bool:
        """A scenario that makes processing take longer per second of output: once the length
        is known, the deadline moves that much later (once); True while the job still waits."""
        if work.extended or not plan.processing_per_output_second or not job.duration_seconds:
            return False
        work.extended = True
        base = plan.processing_seconds or 0.0
        due = work.started + base + plan.processing_per_output_second * job.duration_seconds
        remaining = due - self.clock.now()
        if remaining <= 0:
            return False
        work.deadline_passed = False
        self.scheduler.call_later(remaining, lambda: self._deadline(job, work))
        return True

    async def _process(self, job: Job, work: _Work) -> None:
        inputs = JobInputs(
            request_id=job.request_id,
            model_id=job.model_id,
            image_url=job.image_url,
            audio_url=job.audio_url,
            resolution=job.resolution,
        )
        try:
            probe = await self.media.probe(inputs)
            if not self._still_processing(job):
                return  # ended (or forgotten by a reset) while its inputs were fetched: no hold
            job.notes += probe.notes
            job.duration_seconds = probe.duration_seconds
            cost = cost_of(probe.duration_seconds, self.models[job.model_id].price_per_second)
            job.cost = cost
            wallet = self.wallet(job.key)
            try:
                wallet.hold(job.request_id, cost, self.clock.now())
            except InsufficientFunds:
                work.outcome, work.error = Status.FAILED, INSUFFICIENT_BALANCE_ERROR
                return
            # The job's timeline follows its plan on the gateway clock whatever the render takes:
            # priced and held, it completes when its processing time is over, and a video still
            # rendering then is served once it is ready.
            rendering = asyncio.ensure_future(self.media.render(probe))
            work.media, work.outcome = rendering, Status.COMPLETED
            self._settle(job, work)
            try:
                await asyncio.shield(rendering)
            except asyncio.CancelledError:
                rendering.cancel()
                raise
        except InputRejected as exc:
            work.outcome, work.error = Status.FAILED, str(exc)
        except Exception as exc:  # a bug or a broken codec is a system error, never a crash
            log.exception("processing %s failed", job.request_id)
            work.outcome, work.error = Status.ERROR, f"Internal processing error: {exc}"
        finally:
            self._settle(job, work)

    def _still_processing(self, job: Job) -> bool:
        """Whether ``job`` is still this gateway's and PROCESSING, so money may be held for it."""
        return self.jobs.get(job.request_id) is job and job.status is Status.PROCESSING

    def finish(
        self,
        job: Job,
        status: Status,
        error: str | None = None,
        *,
        media: asyncio.Future[RenderedMedia] | None = None,
    ) -> None:
        """Move a job to a terminal status and settle its money."""
        if job.status.terminal:
            return
        self._work.pop(job.request_id, None)
        wallet = self.wallet(job.key)
        now = self.clock.now()
        if status is Status.COMPLETED and media is not None and job.request_id in wallet.holds:
            self._capture(job, wallet, now)
            self.media_files[job.request_id] = media
        elif status is Status.COMPLETED:
            status, error = Status.ERROR, "Internal processing error: no output was produced"
            wallet.release(job.request_id, now, "no output")
        elif (
            status is Status.FAILED
            and self.config.billing.charge_failed
            and job.request_id in wallet.holds
        ):
            self._capture(job, wallet, now)
        else:
            wallet.release(job.request_id, now, status.value.lower())
        self._move(job, status, error)

    @staticmethod
    def _capture(job: Job, wallet: Wallet, now: float) -> None:
        held = wallet.holds[job.request_id]
        charged = job.charged = wallet.capture(job.request_id, now)
        if charged != held:
            job.notes += (
                f"charged {money_str(charged)} of its {money_str(held)} cost:"
                " the balance was set below what it held",
            )

    # housekeeping -----------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def settle(self, rounds: int = 50) -> None:
        """Run due work and wait for in-flight tasks until nothing more happens now."""
        for _ in range(rounds):
            if self.scheduler.run_due():
                # What those entries woke (an answer held on gateway time) takes its turn now,
                # not whenever the caller next yields: without it, a caller advancing in a loop
                # until nothing waits would never let a held answer go.
                await asyncio.sleep(0)
            if not self._tasks and not self.webhooks.busy:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            await self.webhooks.drain()

    async def advance(self, seconds: float) -> float:
        """Move a manual clock forward, stopping at each due entry so each runs at its own time."""
        clock = self.clock
        if not isinstance(clock, ManualClock):
            message = 'the clock is not manual; set clock.mode = "manual"'
            raise gateway_error(409, "Conflict", message)
        target = clock.now() + seconds
        await self.settle()
        while (due := self.scheduler.next_due()) is not None and due <= target:
            clock.set(max(due, clock.now()))
            await self.settle()
        clock.set(target)
        await self.settle()
        return clock.now()

    def reset(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        self.scheduler.clear()
        self.jobs.clear()
        self._work.clear()
        self._plans.clear()
        self._phase_polls.clear()
        self._held_webhooks.clear()
        self.media_files.clear()
        self.journal.clear()
        self.webhooks.clear()
        self.faults.reset()
        self._reset_wallets()

    # scenario and control ---------------------------------------------------------------------

    @property
    def waiting(self) -> int:
        """How many answers are held on gateway time right now (latency, dribbled bodies)."""
        return self.scheduler.sleeping

    def set_scenario(self, scenario: FaultsConfig | None) -> None:
        """Use ``scenario`` from now on (None: the one loaded at start), counters from zero.

        Jobs already planned keep their timeline; new requests and jobs follow the new scenario.
        """
        self.faults.load(scenario or self.faults.initial)
        self.webhooks.time_scale = self.faults.time_scale

    def command(self, request_id: str, name: str, message: str | None = None) -> Job:
        """Drive one job by hand: ``advance`` (leave its phase now), ``complete`` (skip all its
        remaining time and any injected end), ``fail`` or ``error`` (end it now)."""
        job = self.jobs.get(request_id)
        if job is None:
            raise request_not_found(request_id)
        if name not in ("advance", "complete", "fail", "error"):
            raise gateway_error(
                404,
                "Not Found",
                f"unknown job command {name!r}; use advance, complete, fail, error",
            )
        if job.status.terminal:
            raise gateway_error(
                409, "Conflict", f"request '{request_id}' has already ended {job.status.value}"
            )
        if name in ("fail", "error"):
            status = Status.FAILED if name == "fail" else Status.ERROR
            default = (
                "Failed by operator command." if name == "fail" else "Error by operator command."
            )
            self.finish(job, status, message or default)
            return job
        if name == "complete" and (plan := self._plans.get(request_id)) is not None:
            self._plans[request_id] = replace(plan, end=None)
        if job.status is Status.QUEUED:
            self.start_processing(job)
            if name == "advance":
                return job
        if (work := self._work.get(request_id)) is not None:
            self._deadline(job, work)
        return job

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self.media.close()


async def _refuse_send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
    return SendResult(None, error="no webhook sender configured")


__all__ = ["ApiError", "Gateway"]
