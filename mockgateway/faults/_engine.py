"""The fault engine: decides, from the scenario, what happens to each request, job and webhook.

Pure and synchronous: callers pass what they know (route, key, model, phase, the gateway time)
and get a value back; the aiohttp edge and the gateway act on it. Every random draw comes from a
stream seeded by ``seed`` and a stream name (one per delay phase, one per rule, named after the
rule), so the same seed and the same sequence of requests give the same outcomes, and how often
one rule draws never shifts the draws of another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .._errors import ApiError, InvalidRequest, RateLimited, TooManyJobs
from .._memo import Memo
from ._builtin import KEY_PREFIX, BuiltinScenario, builtin_scenarios
from ._config import FaultsConfig
from ._counters import Counters, LocalCounters
from ._distributions import MAX_SECONDS, Distribution, Kind
from ._ratelimit import retry_after_seconds
from ._rules import (
    Break,
    Context,
    EndJob,
    Family,
    FaultRule,
    HttpError,
    Latency,
    Route,
    WebhookFault,
    WebhookKind,
    matches,
)

_NO_DRAW = random.Random(0)  # handed to a fixed distribution, which never draws from it
DISTRIBUTIONS_KEPT = 1024  # (model, resolution, phase) lookups remembered


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestDecision:
    """What to do with one HTTP exchange: wait ``latency`` gateway seconds, then answer ``error``
    or break the connection as ``brk`` (or, with neither, answer normally)."""

    latency: float = 0.0
    error: ApiError | None = None
    brk: Break | None = None
    fired: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class JobPlan:
    """A job's timeline: phase durations (None: it waits for polls) and how it ends."""

    queue_seconds: float | None
    processing_seconds: float | None
    # gateway seconds of processing added per second of output, once its length is known
    processing_per_output_second: float = 0.0
    end: EndJob | None = None
    scenario: str | None = None
    fired: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookPlan:
    """One webhook delivery: dropped, or sent ``copies`` times after ``delay`` gateway seconds;
    ``reorder``: held until the job ends, then sent newest first."""

    drop: bool = False
    delay: float = 0.0
    copies: int = 1
    reorder: bool = False
    fired: tuple[str, ...] = ()


class FaultEngine:
    def __init__(
        self,
        config: FaultsConfig | None = None,
        *,
        queue_seconds: float = 1.0,
        processing_seconds: float = 2.0,
        counters: Counters | None = None,
    ) -> None:
        self._base = {
            "queue": Distribution.fixed(queue_seconds),
            "processing": Distribution.fixed(processing_seconds),
        }
        self.counters: Counters = counters or LocalCounters()
        self.initial = config or FaultsConfig()
        self.use(self.initial)

    # scenario ---------------------------------------------------------------------------------

    async def load(self, config: FaultsConfig) -> None:
        """Use ``config`` from now on, with fresh counters, buckets and random streams."""
        self.use(config)
        await self.reset()

    def use(self, config: FaultsConfig) -> None:
        """Decide by ``config`` from now on, counting on from where the counters are."""
        self.config = config
        self.builtins: dict[str, BuiltinScenario] = builtin_scenarios(config.scenario.retry_after)
        builtin_rules = tuple(r for s in self.builtins.values() for r in s.rules)
        self.rules: tuple[FaultRule, ...] = config.rules + builtin_rules
        # each family's rules with their index, sorted once: a job or webhook looks at its own
        self._families = {
            family: tuple((i, r) for i, r in enumerate(self.rules) if r.family is family)
            for family in Family
        }
        self.scenarios = frozenset(self.builtins) | {
            r.scenario for r in config.rules if r.scenario is not None
        }
        self.buckets = dict(config.rate_limits.routes)  # route -> its bucket, taken from counters
        self.limited = bool(self.buckets)
        delays = config.delays
        # nothing to decide for a request that selected no scenario: the hot path skips the engine
        self.quiet = (
            not self.limited
            and not any(r.family is Family.REQUEST and r.scenario is None for r in config.rules)
            and all(
                d.response is None
                for d in (
                    delays.default,
                    *(m for _, m in delays.models),
                    *(m for _, _, m in delays.resolutions),
                )
            )
        )
        self.poll_driven = bool(delays.queue_polls or delays.processing_polls)
        # each (model, resolution, phase)'s distribution, looked up once through the levels
        self._dists: Memo[tuple[str | None, str | None, str], Distribution | None]
        self._dists = Memo(DISTRIBUTIONS_KEPT)
        self._per_output: Memo[tuple[str | None, str | None], float] = Memo(DISTRIBUTIONS_KEPT)
        self._job_family = self._families[Family.JOB]
        # a job's plan when nothing in it is drawn (fixed delays, no job rule): the same for
        # every job of a model, resolution and scenario
        self._fixed_plans: Memo[tuple[str, str | None, str | None], JobPlan]
        self._fixed_plans = Memo(DISTRIBUTIONS_KEPT)

    async def reset(self) -> None:
        """Back to the start of the run: counters to zero, streams reseeded, buckets full."""
        await self.counters.restart()

    @property
    def time_scale(self) -> float:
        return self.config.scenario.time_scale

    def scale(self, seconds: float) -> float:
        """Gateway seconds to wait for ``seconds`` of scenario time: at most ``MAX_SECONDS``."""
        return min(seconds * self.config.scenario.time_scale, MAX_SECONDS)

    async def stream(self, name: str) -> random.Random:
        """The generator for the next draw of stream ``name`` under the scenario's seed."""
        return await self.counters.rng(self.config.scenario.seed, name)

    def engaged(self, key: str | None, header: str | None) -> bool:
        """Whether a request with this key and X-Mock-Scenario header needs the engine at all.

        False is the hot path: no rule, delay or limit could apply, so the edge skips the engine.
        """
        return (
            not self.quiet or header is not None or (key is not None and key.startswith(KEY_PREFIX))
        )

    def scenario_of(self, key: str | None, header: str | None) -> str | None:
        """The scenario a request selected: its ``X-Mock-Scenario`` header, else its key."""
        settings = self.config.scenario
        if header is not None and settings.header:
            name = header.strip().removeprefix(KEY_PREFIX)
            if name not in self.scenarios:
                known = ", ".join(sorted(self.scenarios))
                raise InvalidRequest(
                    f"X-Mock-Scenario names an unknown scenario {header!r}; known: {known}"
                )
            return name
        if key is not None and settings.keys and key.startswith(KEY_PREFIX):
            name = key.removeprefix(KEY_PREFIX)
            if name in self.scenarios:
                return name
        return None

    # decisions --------------------------------------------------------------------------------

    async def _fires(self, index: int, rule: FaultRule, ctx: Context) -> bool:
        if not matches(rule, ctx):
            return False
        count = await self.counters.count(f"rule/{index}/{rule.name}")
        if rule.nth and count not in rule.nth:
            return False
        if rule.probability >= 1.0:
            return True
        return (await self.stream(f"rule/{rule.name}")).random() < rule.probability

    async def _fired(self, family: Family, ctx: Context) -> list[tuple[int, FaultRule]]:
        return [(i, rule) for i, rule in self._families[family] if await self._fires(i, rule, ctx)]

    def _distribution(
        self, phase: str, model: str | None, resolution: str | None
    ) -> Distribution | None:
        """The delay distribution of ``phase`` for a job of ``model`` at ``resolution``."""
        key = (model, resolution, phase)
        try:
            return self._dists[key]
        except KeyError:
            pass
        dist = self.config.delays.for_model(model, phase, resolution) or self._base.get(phase)
        return self._dists.keep(key, dist)

    def _per_output_second(self, model: str | None, resolution: str | None) -> float:
        key = (model, resolution)
        found = self._per_output.get(key)
        if found is None:
            found = self._per_output.keep(
                key, self.config.delays.per_output_second(model, resolution)
            )
        return found

    async def _draw(self, phase: str, model: str | None, resolution: str | None = None) -> float:
        dist = self._distribution(phase, model, resolution)
        if dist is None:
            return 0.0
        if dist.kind is Kind.FIXED:  # no randomness to draw: nothing to count either
            return self.scale(dist.sample(_NO_DRAW))
        return self.scale(dist.sample(await self.stream(f"delay/{phase}")))

    async def on_request(self, ctx: Context) -> RequestDecision:
        """Evaluate every request rule in order (all count); the first error or break wins."""
        latency = await self._draw("response", ctx.model)
        error: ApiError | None = None
        brk: Break | None = None
        fired: list[str] = []
        for _, rule in await self._fired(Family.REQUEST, ctx):
            action = rule.action
            if isinstance(action, Latency):
                rng = await self.stream(f"rule/{rule.name}/delay")
                latency += self.scale(action.delay.sample(rng))
            elif error is None and brk is None:
                if isinstance(action, HttpError):
                    error = action.api_error()
                elif isinstance(action, Break):
                    brk = Break(
                        kind=action.kind,
                        seconds=self.scale(action.seconds),
                        chunks=action.chunks,
                        fraction=action.fraction,
                        processed=action.processed,
                    )
            else:
                continue
            fired.append(rule.name)
        latency = min(latency, MAX_SECONDS)  # latencies of several rules add up
        return RequestDecision(latency=latency, error=error, brk=brk, fired=tuple(fired))

    async def plan_job(
        self, key: str, model: str, scenario: str | None, resolution: str | None = None
    ) -> JobPlan:
        """A new job's phase durations and, if a job rule fires, how it ends."""
        fixed = self._fixed_plans.get((model, resolution, scenario))
        if fixed is not None:
            return fixed
        ruled = not self._no_job_rules(scenario)
        plan = await self._plan_job(key, model, scenario, resolution, ruled=ruled)
        if not ruled and self._fixed(model, resolution):  # nothing drawn or counted
            self._fixed_plans.keep((model, resolution, scenario), plan)  # frozen: jobs share it
        return plan

    def _no_job_rules(self, scenario: str | None) -> bool:
        """Whether no job rule can apply to a job of ``scenario`` (a rule of another scenario
        never matches): its plan then counts nothing."""
        return all(r.scenario is not None and r.scenario != scenario for _, r in self._job_family)

    def _fixed(self, model: str, resolution: str | None) -> bool:
        """Whether every phase a job of ``model`` at ``resolution`` is planned with is fixed."""
        for phase in ("queue", "processing"):
            dist = self._distribution(phase, model, resolution)
            if dist is not None and dist.kind is not Kind.FIXED:
                return False
        return True

    async def _plan_job(
        self, key: str, model: str, scenario: str | None, resolution: str | None, *, ruled: bool
    ) -> JobPlan:
        delays = self.config.delays
        queue = None if delays.queue_polls else await self._draw("queue", model, resolution)
        processing = (
            None if delays.processing_polls else await self._draw("processing", model, resolution)
        )
        fired: list[tuple[int, FaultRule]] = []
        if ruled:  # a job rule may apply: each one is looked at (and counts)
            ctx = Context(route=Route.GENERATE, key=key, model=model, scenario=scenario)
            fired = await self._fired(Family.JOB, ctx)
        end = next((r.action for _, r in fired if isinstance(r.action, EndJob)), None)
        return JobPlan(
            queue_seconds=queue,
            processing_seconds=processing,
            processing_per_output_second=self.config.scenario.time_scale
            * self._per_output_second(model, resolution),
            end=end,
            scenario=scenario,
            fired=tuple(r.name for _, r in fired[:1]),
        )

    async def plan_webhook(
        self, key: str, model: str, phase: str, scenario: str | None
    ) -> WebhookPlan:
        """One delivery: every webhook rule that fires applies (a drop overrides the rest)."""
        delay = await self._draw("webhook", model)
        ctx = Context(route=Route.WEBHOOK, key=key, model=model, phase=phase, scenario=scenario)
        drop = reorder = False
        copies = 1
        fired: list[str] = []
        for _, rule in await self._fired(Family.WEBHOOK, ctx):
            action = rule.action
            assert isinstance(action, WebhookFault)
            fired.append(rule.name)
            if action.kind is WebhookKind.DROP:
                drop = True
            elif action.kind is WebhookKind.DELAY:
                rng = await self.stream(f"rule/{rule.name}/delay")
                delay += self.scale(action.delay.sample(rng))
            elif action.kind is WebhookKind.DUPLICATE:
                copies = max(copies, action.copies)
            else:
                reorder = True
        return WebhookPlan(
            drop=drop,
            delay=min(delay, MAX_SECONDS),
            copies=copies,
            reorder=reorder,
            fired=tuple(fired),
        )

    async def rate_limit(self, key: str, route: str, now: float) -> RateLimited | None:
        """Too fast (the API-management 429) when the key's bucket for ``route`` is empty."""
        config = self.buckets.get(route)
        if config is None:
            return None
        wait = await self.counters.take(f"{key}/{route}", config, now)
        return None if wait is None else RateLimited(retry_after_seconds(wait))

    def concurrency_limit(self, active_jobs: int) -> TooManyJobs | None:
        """Too many jobs when a key already has the configured number of unfinished ones."""
        limits = self.config.rate_limits
        if limits.concurrent_jobs and active_jobs >= limits.concurrent_jobs:
            return TooManyJobs(limits.concurrent_retry_after)
        return None
