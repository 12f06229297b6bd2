"""The job lifecycle over the store: submit, poll, the phase changes and settling the money.

Every change is a step (``async with store.atomic()``) that reads the job, moves it and writes it
back; timed phase changes are store tasks, so a restart or another replica carries them on at the
times the job's plan says. The only process-local things are real work: fetching, probing and
rendering a job's media (a process that finds a job with its work not done, because the one
doing it died, does it again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal

from ._accounts import Accounts
from ._billing import WalletState, money_str
from ._clock import Clock
from ._config import GatewayConfig
from ._delivery import Webhooks
from ._errors import (
    INSUFFICIENT_BALANCE,
    INSUFFICIENT_BALANCE_MESSAGE,
    Conflict,
    InsufficientBalance,
    MediaNotFound,
    ModelNotFound,
    ProcessingFailure,
    RequestNotFound,
    TooManyActiveJobs,
    Unavailable,
    UnknownCommand,
)
from ._ids import new_request_id, request_time
from ._jobs import COMPLETED, ERROR, FAILED, PROCESSING, QUEUED, Job, Status, rendered_status
from ._memo import Memo
from ._timeline import Timeline
from .faults import FaultEngine, JobPlan
from .media import (
    InputRef,
    InputRejected,
    JobInputs,
    MediaPipeline,
    OutputPlan,
    Probe,
    RenderedMedia,
)
from .models import GenerateRequest, ModelSpec
from .store import DEADLINE, FORGOTTEN_UNTIL, START, Store, StoreUnavailable, Task

log = logging.getLogger("mockgateway")

INSUFFICIENT_BALANCE_ERROR = f"{INSUFFICIENT_BALANCE}: {INSUFFICIENT_BALANCE_MESSAGE}"
COMMANDS = ("advance", "complete", "fail", "error")
SHARED_KEPT = 1024  # input lists and output plans jobs share, remembered
SHARED_URL_CHARS = 4096  # an input list whose URLs are longer is not remembered
# a request's model, inputs and output choices (resolution, aspect ratio, seconds)
_KnownKey = tuple[str, tuple[tuple[str, str], ...], tuple[str | None, str | None, float | None]]


class Lifecycle:
    def __init__(
        self,
        config: GatewayConfig,
        *,
        store: Store,
        clock: Clock,
        accounts: Accounts,
        faults: FaultEngine,
        media: MediaPipeline,
        webhooks: Webhooks,
        timeline: Timeline,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.accounts = accounts
        self.faults = faults
        self.media = media
        self.webhooks = webhooks
        self.timeline = timeline
        self.models: dict[str, ModelSpec] = {m.id: m for m in config.models}
        # each model's served media type and file name (the configuration names a video's)
        self._served = {m.id: self._names(m) for m in config.models}
        # what jobs of the same request share, made once: their inputs as the pipeline takes
        # them and their output plan (both frozen), by model and what the request chose
        self._refs: Memo[tuple[str, tuple[tuple[str, str], ...]], tuple[InputRef, ...]]
        self._refs = Memo(SHARED_KEPT)
        # what the pipeline notes of those inputs (a function of the inputs), by the same key
        self._notes: Memo[tuple[str, tuple[tuple[str, str], ...]], tuple[str, ...]]
        self._notes = Memo(SHARED_KEPT)
        self._plans: Memo[tuple[str, str | None, str | None, float | None], OutputPlan]
        self._plans = Memo(SHARED_KEPT)
        # What a job of the same request costs once probed, when the pipeline knows its probe
        # without reading anything: by model and what the request chose (inputs, plan)
        self._known: Memo[_KnownKey, tuple[Probe, Decimal]]
        self._known = Memo(SHARED_KEPT)
        # the pipeline's optional shortcuts, looked up once (a pipeline may lack them)
        self._notes_of = getattr(media, "input_notes", None)
        self._at_once = getattr(media, "probe_at_once", None)
        self._rendered_of = getattr(media, "rendered", None)
        self._working: dict[str, asyncio.Task[None]] = {}  # jobs whose work runs here
        self._renders: dict[str, asyncio.Future[RenderedMedia]] = {}  # outputs still rendering
        self._listeners: list[Callable[[Job], None]] = []
        self._keeping: set[asyncio.Task[None]] = set()  # outputs being written to the store

    # requests ---------------------------------------------------------------------------------

    def model(self, model_id: str) -> ModelSpec:
        model = self.models.get(model_id)
        if model is None or not model.enabled:
            raise ModelNotFound(model_id)
        return model

    async def submit(
        self,
        wallet: WalletState,
        model: ModelSpec,
        request: GenerateRequest,
        *,
        webhook_url: str | None,
        media_base_url: str,
        scenario: str | None = None,
    ) -> Job:
        """Queue a job. The wallet must cover at least one billable second, or the price of a
        model priced per request ([mock]).

        Its phase durations and any injected end come from the fault engine's plan. The job is
        stored (committed) before this returns, so a 202 is never lost.
        """
        store = self.store
        key = wallet.key
        async with store.atomic():
            if self.faults.config.rate_limits.concurrent_jobs:
                too_many = self.faults.concurrency_limit(await store.active_jobs(key))
                if too_many is not None:
                    raise too_many
            # Jobs not yet ended are kept whatever their number (retention bounds ended ones):
            # a client picking a slow scenario must not grow them without end.
            limit = self.config.lifecycle.max_active_jobs
            counts = await store.job_counts()
            if counts[QUEUED] + counts[PROCESSING] >= limit:
                raise TooManyActiveJobs(limit)
            current = await store.get_wallet(key) or wallet
            if not current.can_cover(model.least_cost):
                raise InsufficientBalance()
            now = self.clock.now()
            request_id = new_request_id(model.id, now)
            media_type, filename = self._served_names(model)
            plan = await self.faults.plan_job(key, model.id, scenario, request.resolution)
            job = Job(
                request_id=request_id,
                model_id=model.id,
                key=key,
                inputs=request.inputs,
                resolution=request.resolution,
                aspect_ratio=request.aspect_ratio,
                seconds=request.seconds,
                created_at=now,
                updated_at=now,
                media_type=media_type,
                per=model.per._value_,
                webhook_url=webhook_url,
                extra_fields=request.extra_fields,
                media_urls=(f"{media_base_url}/v1/{request_id}/{filename}",),
                plan=plan,
                history=((QUEUED._value_, now),),
            )
            await store.create_job(job)
            if plan.queue_seconds is not None:
                await self.timeline.at(now + plan.queue_seconds, START, request_id)
        return job

    def input_notes(self, job: Job) -> tuple[str, ...]:
        """What the media pipeline says about a job's inputs before fetching them (for example
        that a bundled sample will stand in), for the generate request's journal entry."""
        notes_of = self._notes_of
        model = self.models.get(job.model_id)
        if notes_of is None or model is None:
            return ()
        key = (model.id, job.inputs)
        notes = self._notes.get(key)
        if notes is None:
            notes = tuple(notes_of(self._input_refs(model, job.inputs)))
            if _small(job.inputs):
                self._notes.keep(key, notes)
        return notes

    def media_type(self, model: ModelSpec) -> str:
        """A model's output type: a video's is ``[lifecycle] media_type``, others their kind's."""
        return self._served_names(model)[0]

    def output_filename(self, model: ModelSpec) -> str:
        """The file name of a model's output in its media URL (``[lifecycle] output_filename``
        for a video)."""
        return self._served_names(model)[1]

    def _served_names(self, model: ModelSpec) -> tuple[str, str]:
        """A model's served media type and file name: made at start for the declared models."""
        return self._served.get(model.id) or self._names(model)

    def _names(self, model: ModelSpec) -> tuple[str, str]:
        lifecycle = self.config.lifecycle
        return (
            model.served_media_type(lifecycle.media_type),
            model.served_filename(lifecycle.output_filename),
        )

    @staticmethod
    def plan_notes(job: Job) -> tuple[str, ...]:
        """The scenario's plan for a new job, when a rule decided its end (for the journal)."""
        plan = job.plan
        if plan is None or plan.end is None:
            return ()
        end = plan.end
        rule = f"fault rule {plan.fired[0]!r}: " if plan.fired else ""
        return (f"{rule}the job will end {end.status} at {end.at}",)

    async def poll(self, key: str, request_id: str) -> tuple[bytes, Job]:
        """The status body's bytes a key sees for one of its requests, and the job. A key
        sees only its own jobs: anyone else's answers as unknown ([mock], no leak) and its poll
        counts nothing on the job."""
        job = await self.store.poll_job(request_id, key)
        if job is None:
            raise RequestNotFound(request_id)
        answer = rendered_status(job)
        if self.faults.poll_driven:
            await self._count_poll(job)
        return answer, job

    async def _count_poll(self, job: Job) -> None:
        """Poll-driven phases: the job leaves its phase right after its N-th poll there."""
        delays = self.faults.config.delays
        needed = {QUEUED: delays.queue_polls, PROCESSING: delays.processing_polls}
        wanted = needed.get(job.status, 0)
        if not wanted or job.phase_polls < wanted:
            return
        if job.status is QUEUED:
            await self.start_processing(job.request_id)
        else:
            await self.deadline(job.request_id)

    async def media_file(self, request_id: str) -> RenderedMedia:
        """A completed job's video; one still rendering when its job completed is waited for,
        and one whose render was lost (a restart, another replica) is made again."""
        rendering = self._renders.get(request_id)
        if rendering is not None:
            try:
                return await asyncio.shield(rendering)
            except asyncio.CancelledError:
                if rendering.cancelled():  # the gateway is closing
                    raise Unavailable() from None
                raise
            except Exception as exc:
                raise ProcessingFailure(str(exc)) from None
        stored = await self.store.get_media(request_id)
        if stored is not None:
            return stored
        job = await self.store.get_job(request_id)
        if job is None or job.status is not COMPLETED:
            raise MediaNotFound(f"No media for request '{request_id}'")
        return await self._rerender(job)

    def job_filename(self, job: Job) -> str:
        """The file name a job's media URL ends in."""
        model = self.models.get(job.model_id)
        return self.output_filename(model) if model is not None else ""

    async def forgotten(self, request_id: str, filename: str) -> bool:
        """Whether ``request_id`` (with its model's output ``filename``) names a job retention
        has let go (its links have expired)."""
        model_id, _, tail = request_id.rpartition("_")
        made = request_time(tail)
        model = self.models.get(model_id)
        if model is None or made is None or filename != self.output_filename(model):
            return False
        until = await self.store.get_meta(FORGOTTEN_UNTIL)
        return until is not None and made <= float(until)

    async def _rerender(self, job: Job) -> RenderedMedia:
        try:
            probe = await self.media.probe(self._inputs(job))
            media = await self.media.render(probe)
        except Exception as exc:
            log.exception("rendering %s again failed", job.request_id)
            raise ProcessingFailure(str(exc)) from None
        await self.store.put_media(job.request_id, media)
        return media

    # tasks ------------------------------------------------------------------------------------

    def run_task(self, task: Task) -> Awaitable[None]:
        """The step a due task runs, to be awaited (handed on: no coroutine of its own, as every
        job's phase changes come through here)."""
        kind = task.kind
        if kind is START:
            return self.start_processing(task.ref, task)
        if kind is DEADLINE:
            return self.deadline(task.ref, task)
        return self.webhooks.attempt(task)

    # lifecycle --------------------------------------------------------------------------------

    def on_transition(self, listener: Callable[[Job], None]) -> None:
        self._listeners.append(listener)

    async def _move(
        self, job: Job, target: Status, error: str | None = None, *, save: bool = True
    ) -> None:
        """Move a job inside the caller's step, tell listeners and webhooks, write it back
        (unless ``save`` is false: the caller writes it later in the same step)."""
        job.move(target, self.clock.now(), error=error)
        for listener in self._listeners:
            listener(job)
        if job.webhook_url:  # a job without one has nothing to send
            await self.webhooks.job_moved(job)
        if target.terminal:  # the plan has served its purpose
            job.plan = None
        if save:
            await self.store.save_job(job)

    async def start_processing(self, request_id: str, task: Task | None = None) -> None:
        store = self.store
        async with store.atomic():
            if task is not None:
                await store.ack(task)
            job = await store.get_job(request_id)
            if job is None or job.status is not QUEUED:
                return
            plan = job.plan
            if plan is not None and plan.end is not None and plan.end.at == QUEUED._value_:
                await self._finish(job, Status(plan.end.status), plan.end.message)
                return
            # written once below, or by _use_probe (every way through it writes the job)
            await self._move(job, PROCESSING, save=False)
            seconds = plan.processing_seconds if plan else self.config.lifecycle.processing_seconds
            if seconds is not None:
                await self.timeline.at(self.clock.now() + seconds, DEADLINE, request_id)
            known = self._probe_at_once(job)
            if known is not None:  # its work is known now: no task, no step of its own
                await self._use_probe(job, *known)
                return
            await store.save_job(job)
        self._start_work(job)

    def _probe_at_once(self, job: Job) -> tuple[Probe, RenderedMedia, Decimal] | None:
        """The job's probe, output and cost when the pipeline knows its probe without reading
        anything and has its output rendered already (optional: a pipeline without
        ``probe_at_once`` probes every job). Jobs of the same request share one probe and
        price, remembered here (boundedly): most jobs are repeats."""
        key = (job.model_id, job.inputs, (job.resolution, job.aspect_ratio, job.seconds))
        known = self._known.get(key)
        if known is None:
            at_once = self._at_once
            model = self.models.get(job.model_id)
            if at_once is None or model is None:
                return None
            probe: Probe | None = at_once(self._inputs(job))
            if probe is None:
                return None
            known = (probe, model.cost(probe.duration_seconds))
            if _small(job.inputs):
                self._known.keep(key, known)
        probe, cost = known
        ready = self._ready(probe)
        return None if ready is None else (probe, ready, cost)

    def _start_work(self, job: Job) -> None:
        if job.request_id not in self._working:
            work = asyncio.get_running_loop().create_task(self._process(job.request_id, job))
            self._working[job.request_id] = work
            work.add_done_callback(lambda _t: self._working.pop(job.request_id, None))

    async def deadline(self, request_id: str, task: Task | None = None) -> None:
        """The job's processing time is over: end it now if its work is done."""
        store = self.store
        async with store.atomic():
            job = await store.get_job(request_id)
            if job is None or job.status is not PROCESSING:
                if task is not None:
                    await store.ack(task)
                return
            job.deadline_passed = True
            if job.outcome is None:
                await store.save_job(job)
                if request_id not in self._working:  # the process doing its work is gone
                    self._start_work(job)
                if task is not None and not store.shared:
                    await store.ack(task)  # a restart carries the work on (recover)
                # Shared: the task stays claimed until the work ends the job. Should the
                # process doing it die, the claim's lease hands the task to another replica,
                # which does the work again.
                return
            if task is not None:
                await store.ack(task)
            await self._settle(job)

    async def _settle(self, job: Job) -> None:
        """Inside a step: end the job, its processing time being over and its work done."""
        plan = job.plan
        # (only a scenario that lengthens processing per output second has a wait to look at)
        if (
            plan is not None
            and plan.processing_per_output_second
            and await self._wait_for_length(job, plan)
        ):
            return
        if plan is not None and plan.end is not None:
            await self._finish(job, Status(plan.end.status), plan.end.message)
        elif job.outcome is COMPLETED:
            await self._finish(job, COMPLETED, completed=True)
        else:
            assert job.outcome is not None
            await self._finish(job, job.outcome, job.outcome_error)

    async def _wait_for_length(self, job: Job, plan: JobPlan) -> bool:
        """A scenario that makes processing take longer per second of output (``plan``, the
        job's, says how much): once the length is known, the deadline moves that much later
        (once); True while the job still waits."""
        if job.extended or not job.duration_seconds:
            return False
        job.extended = True
        started = next((t for s, t in reversed(job.history) if s == PROCESSING), None)
        base = plan.processing_seconds or 0.0
        due = (started or job.updated_at) + base
        due += plan.processing_per_output_second * job.duration_seconds
        if due <= self.clock.now():
            return False
        job.deadline_passed = False
        await self.store.save_job(job)
        await self.timeline.at(due, DEADLINE, job.request_id)
        return True

    async def _process(self, request_id: str, seen: Job) -> None:
        """Fetch and probe the inputs, price and hold, then render (the timeline does not wait
        for the render: a video still rendering when its job completes is served when ready)."""
        store = self.store
        try:
            probe = await self.media.probe(self._inputs(seen))
            async with store.atomic():
                job = await store.get_job(request_id)
                if job is None or job.status is not PROCESSING or job.outcome is not None:
                    return  # ended (or forgotten by a reset) while its inputs were fetched
                rendering = await self._use_probe(job, probe)
            if rendering is None:
                return
            try:
                await asyncio.shield(rendering)
            except asyncio.CancelledError:
                rendering.cancel()
                raise
            except Exception as exc:  # before its time is over, the job ends ERROR for it
                log.exception("rendering %s failed", request_id)
                await self._render_failed(request_id, f"Internal processing error: {exc}")
        except InputRejected as exc:
            await self._found_outside(request_id, FAILED, str(exc))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug or a broken codec is a system error, never a crash
            log.exception("processing %s failed", request_id)
            await self._found_outside(request_id, ERROR, f"Internal processing error: {exc}")

    async def _use_probe(
        self,
        job: Job,
        probe: Probe,
        ready: RenderedMedia | None = None,
        cost: Decimal | None = None,
    ) -> asyncio.Future[RenderedMedia] | None:
        """Inside a step: price the probed job (``cost``: priced already) and hold its cost,
        then find its outcome; the render started for it, when its output is not rendered yet
        (``ready``: it is)."""
        store, request_id = self.store, job.request_id
        if probe.notes:
            job.notes += probe.notes
        job.duration_seconds = probe.duration_seconds
        if cost is None:
            cost = self.models[job.model_id].cost(probe.duration_seconds)
        job.cost = cost
        now = self.clock.now()
        try:  # held once: work done again (a restart, another replica) finds its hold kept
            held = await store.hold(job.key, request_id, cost, now)
        except KeyError:  # the key has no wallet (yet): opened as on first use
            await self.accounts.wallet(job.key)
            held = await store.hold(job.key, request_id, cost, now)
        if not held:
            await self._found(job, FAILED, INSUFFICIENT_BALANCE_ERROR)
            return None
        ready = ready or self._ready(probe)
        if ready is not None:  # rendered before: kept now, with no render task
            await self._found(job, COMPLETED, None)
            await store.put_media(request_id, ready)
            return None
        rendering = asyncio.ensure_future(self.media.render(probe))
        self._renders[request_id] = rendering
        rendering.add_done_callback(lambda f: self._rendered(request_id, f))
        await self._found(job, COMPLETED, None)
        return rendering

    def _ready(self, probe: Probe) -> RenderedMedia | None:
        """The pipeline's finished render of these inputs, when it keeps one (optional: a
        pipeline without ``rendered`` renders every job)."""
        rendered = self._rendered_of
        return rendered(probe) if rendered is not None else None

    def _rendered(self, request_id: str, future: asyncio.Future[RenderedMedia]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        media = future.result()
        task = asyncio.get_running_loop().create_task(self._keep_media(request_id, media))
        self._keeping.add(task)  # held until done: a task nobody references may be collected
        task.add_done_callback(self._keeping.discard)

    async def _keep_media(self, request_id: str, media: RenderedMedia) -> None:
        try:
            job = await self.store.get_job(request_id)
            if job is not None and job.status is not FAILED:
                await self.store.put_media(request_id, media)
        except StoreUnavailable:  # made again on request (media_file) once the store is back
            log.warning("the output of %s could not be kept: the store is out of reach", request_id)
        finally:
            self._renders.pop(request_id, None)

    async def _render_failed(self, request_id: str, error: str) -> None:
        """A render broke: a job still PROCESSING ends ERROR (one already COMPLETED answers its
        media with a 500)."""
        async with self.store.atomic():
            job = await self.store.get_job(request_id)
            if job is not None and job.status is PROCESSING:
                await self._found(job, ERROR, error)

    async def _found_outside(self, request_id: str, outcome: Status, error: str | None) -> None:
        async with self.store.atomic():
            job = await self.store.get_job(request_id)
            if job is not None and job.status is PROCESSING and job.outcome is None:
                await self._found(job, outcome, error)

    async def _found(self, job: Job, outcome: Status, error: str | None) -> None:
        """Inside a step: what the work found; the job ends now if its time is over."""
        job.outcome, job.outcome_error = outcome, error
        if job.deadline_passed:
            await self._settle(job)
        else:
            await self.store.save_job(job)

    async def _finish(
        self, job: Job, status: Status, error: str | None = None, *, completed: bool = False
    ) -> None:
        """Inside a step: move a job to a terminal status and settle its money."""
        if job.status.terminal:
            return
        store = self.store
        now = self.clock.now()
        if status is COMPLETED and not (completed and await self._capture(job, now)):
            # an end planned COMPLETED before the work was done, or a job that holds nothing
            # (never priced): nothing to charge, and no output
            status, error = ERROR, "Internal processing error: no output was produced"
            await store.release(job.key, job.request_id, now, "no output")
        elif status is FAILED and self.config.billing.charge_failed:
            await self._capture(job, now)  # what it holds, if anything
        elif status is not COMPLETED:
            await store.release(job.key, job.request_id, now, status.value.lower())
        if status is not COMPLETED:
            rendering = self._renders.pop(job.request_id, None)
            if rendering is not None:
                rendering.cancel()
        await self._move(job, status, error)

    async def _capture(self, job: Job, now: float) -> bool:
        """Charge what the job holds: False when it holds nothing."""
        captured = await self.store.capture(job.key, job.request_id, now)
        if captured is None:
            return False
        charged, held = captured
        job.charged = charged
        if charged != held:
            job.notes += (
                f"charged {money_str(charged)} of its {money_str(held)} cost:"
                " the balance was set below what it held",
            )
        return True

    # operator commands ------------------------------------------------------------------------

    async def command(self, request_id: str, name: str, message: str | None = None) -> Job:
        """Drive one job by hand: ``advance`` (leave its phase now), ``complete`` (skip all its
        remaining time and any injected end), ``fail`` or ``error`` (end it now)."""
        store = self.store
        job = await store.get_job(request_id)
        if job is None:
            raise RequestNotFound(request_id)
        if name not in COMMANDS:
            raise UnknownCommand(f"unknown job command {name!r}; use {', '.join(COMMANDS)}")
        if job.status.terminal:
            raise Conflict(f"request '{request_id}' has already ended {job.status.value}")
        if name in ("fail", "error"):
            status = FAILED if name == "fail" else ERROR
            default = (
                "Failed by operator command." if name == "fail" else "Error by operator command."
            )
            async with store.atomic():
                current = await store.get_job(request_id)
                if current is not None:
                    await self._finish(current, status, message or default)
            return await self._current(request_id, job)
        if name == "complete":
            async with store.atomic():
                current = await store.get_job(request_id)
                if current is not None and current.plan is not None:
                    current.plan = replace(current.plan, end=None)
                    await store.save_job(current)
        if job.status is QUEUED:
            await self.start_processing(request_id)
            if name == "advance":
                return await self._current(request_id, job)
        await self.deadline(request_id)
        return await self._current(request_id, job)

    async def _current(self, request_id: str, fallback: Job) -> Job:
        return await self.store.get_job(request_id) or fallback

    # housekeeping -----------------------------------------------------------------------------

    @property
    def working(self) -> list[asyncio.Task[None]]:
        """Work in flight here: fetching, probing, and keeping finished outputs."""
        return [*self._working.values(), *self._keeping]

    async def recover(self) -> None:
        """At start: carry on the work of jobs a stopped process left PROCESSING."""
        cursor: str | None = None
        while True:
            page = await self.store.list_jobs(status=PROCESSING, limit=1000, cursor=cursor)
            for job in page.items:
                if job.outcome is None:
                    self._start_work(job)
            if (cursor := page.next_cursor) is None:
                return

    def _inputs(self, job: Job) -> JobInputs:
        """What the media pipeline needs to make a job's output, from its model's declaration."""
        model = self.models.get(job.model_id)
        if model is None:  # a stored job of a model this configuration no longer declares
            raise ProcessingFailure(f"model {job.model_id!r} is not declared here")
        plan_key = (model.id, job.resolution, job.aspect_ratio, job.seconds)
        plan = self._plans.get(plan_key)
        if plan is None:
            plan = self._plans.keep(
                plan_key,
                model.output_plan(
                    resolution=job.resolution, aspect_ratio=job.aspect_ratio, seconds=job.seconds
                ),
            )
        return JobInputs(
            request_id=job.request_id,
            model_id=job.model_id,
            inputs=self._input_refs(model, job.inputs),
            output=plan,
        )

    def _input_refs(
        self, model: ModelSpec, given: tuple[tuple[str, str], ...]
    ) -> tuple[InputRef, ...]:
        key = (model.id, given)
        refs = self._refs.get(key)
        if refs is None:
            refs = model.input_refs(given)
            if _small(given):
                self._refs.keep(key, refs)
        return refs

    def cancel(self) -> None:
        for work in list(self._working.values()):
            work.cancel()
        for rendering in list(self._renders.values()):
            rendering.cancel()
        self._working.clear()
        self._renders.clear()


def _small(given: tuple[tuple[str, str], ...]) -> bool:
    """Whether what is remembered of a request with these inputs stays small in bytes: its URLs
    add up to at most SHARED_URL_CHARS."""
    return sum(len(url) for _, url in given) <= SHARED_URL_CHARS
