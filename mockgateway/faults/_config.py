"""The scenario sections of the configuration file, as frozen values, and their reader.

The sections (``[scenario]``, ``[delays]``, ``[[faults]]``, ``[rate_limits]``) live in the same
TOML file as the core configuration and are read with the core's reader, so a bad value stops the
gateway with an error naming the key and the file. The same structure, as JSON or as TOML text,
replaces the scenario at runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .._bodyparse import toml_config
from .._reader import Reader
from ._distributions import MAX_SECONDS, MAX_SIGMA, MU_RANGE, Distribution, Kind
from ._ratelimit import BucketConfig
from ._rules import (
    ERROR_STATUSES,
    Action,
    Break,
    BreakKind,
    EndJob,
    Family,
    FaultRule,
    HttpError,
    Latency,
    Route,
    WebhookFault,
    WebhookKind,
    family_of,
)

SECTIONS = ("scenario", "delays", "faults", "rate_limits")
MAX_TIME_SCALE = 1e6
MAX_RATE = 1e6  # tokens per gateway second
MAX_COUNT = 1_000_000  # polls, bursts, concurrent jobs, chunks
MAX_RETRY_AFTER = 86_400  # seconds, for Retry-After and the quota message
MAX_COPIES = 100
PHASES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
DELAY_PHASES = ("queue", "processing", "webhook", "response")
RESOLUTIONS = ("480p", "720p", "1080p")
MAX_PER_OUTPUT_SECOND = 1000.0  # gateway seconds of processing per second of output


@dataclass(frozen=True, slots=True, kw_only=True)
class ScenarioConfig:
    """``seed``: every random draw comes from streams seeded by it, so a run replays exactly.
    ``time_scale``: every duration the gateway waits is multiplied by it. ``keys`` / ``header``:
    whether ``mock-<name>`` keys and the ``X-Mock-Scenario`` header select scenarios.
    ``retry_after``: the ``Retry-After`` seconds of the ``mock-429`` scenario."""

    seed: int | str = 0
    time_scale: float = 1.0
    keys: bool = True
    header: bool = True
    retry_after: int = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseDelays:
    """A duration per phase; None leaves the phase to the next level (model and resolution,
    model, resolution, then default). ``processing_per_output_second``: gateway seconds the
    processing phase takes on top of its duration for each second of output (None: the next
    level's; 0 when none says)."""

    queue: Distribution | None = None
    processing: Distribution | None = None
    webhook: Distribution | None = None
    response: Distribution | None = None
    processing_per_output_second: float | None = None

    def get(self, phase: str) -> Distribution | None:
        value: Distribution | None = getattr(self, phase)
        return value


@dataclass(frozen=True, slots=True, kw_only=True)
class DelaysConfig:
    """Phase durations, per model over the defaults. ``*_polls`` > 0: the job leaves that phase
    after that many status polls instead of after a time."""

    default: PhaseDelays = field(default_factory=PhaseDelays)
    models: tuple[tuple[str, PhaseDelays], ...] = ()
    queue_polls: int = 0
    processing_polls: int = 0
    # (model id or None for every model, resolution, delays): [delays.resolutions."480p"] and
    # [delays.models."<id>".resolutions."480p"]
    resolutions: tuple[tuple[str | None, str, PhaseDelays], ...] = ()

    def _levels(self, model: str | None, resolution: str | None) -> list[PhaseDelays]:
        """The tables that may give a job's delays, most specific first."""
        by_res = {(m, r): d for m, r, d in self.resolutions}
        levels = [by_res.get((model, resolution)) if model and resolution else None]
        levels += [d for model_id, d in self.models if model_id == model]
        levels += [by_res.get((None, resolution)) if resolution else None, self.default]
        return [d for d in levels if d is not None]

    def for_model(
        self, model: str | None, phase: str, resolution: str | None = None
    ) -> Distribution | None:
        for delays in self._levels(model, resolution):
            if (found := delays.get(phase)) is not None:
                return found
        return None

    def per_output_second(self, model: str | None, resolution: str | None = None) -> float:
        """Processing seconds per second of output for a job of ``model`` at ``resolution``."""
        for delays in self._levels(model, resolution):
            if delays.processing_per_output_second is not None:
                return delays.processing_per_output_second
        return 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitsConfig:
    """Token buckets per route (per key), and a cap on a key's non-terminal jobs (0: none)."""

    routes: tuple[tuple[str, BucketConfig], ...] = ()
    concurrent_jobs: int = 0
    concurrent_retry_after: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultsConfig:
    scenario: ScenarioConfig = field(default_factory=ScenarioConfig)
    delays: DelaysConfig = field(default_factory=DelaysConfig)
    rules: tuple[FaultRule, ...] = ()
    rate_limits: RateLimitsConfig = field(default_factory=RateLimitsConfig)
    source: str = "<defaults>"


# reading ---------------------------------------------------------------------------------------


def read_faults(root: Reader) -> FaultsConfig:
    """Read the scenario sections from a root reader (marking them used)."""
    return FaultsConfig(
        scenario=_read_scenario(root.sub("scenario")),
        delays=_read_delays(root.sub("delays")),
        rules=_read_rules(root.tables("faults")),
        rate_limits=_read_rate_limits(root.sub("rate_limits")),
        source=root.source,
    )


def faults_from_mapping(data: Mapping[str, Any], source: str) -> FaultsConfig:
    """A scenario alone (only the scenario sections), e.g. the JSON body of PUT /_mock/scenario."""
    root = Reader(data, "", source)
    config = read_faults(root)
    root.finish()
    return config


def faults_from_toml(text: str, source: str) -> FaultsConfig:
    return faults_from_mapping(toml_config(text.encode("utf-8", "surrogatepass"), source), source)


def _read_scenario(r: Reader) -> ScenarioConfig:
    seed = r.get("seed", (int, str), 0)
    config = ScenarioConfig(
        seed=seed,
        time_scale=r.number("time_scale", 1.0, minimum=0.0, maximum=MAX_TIME_SCALE),
        keys=r.get("keys", bool, True),
        header=r.get("header", bool, True),
        retry_after=r.integer("retry_after", 2, minimum=1, maximum=MAX_RETRY_AFTER),
    )
    r.finish()
    return config


def _read_phase_delays(r: Reader, *, allow: tuple[str, ...] = ()) -> PhaseDelays:
    values = {phase: read_distribution(r, phase) for phase in DELAY_PHASES}
    slope = (
        r.number("processing_per_output_second", 0.0, maximum=MAX_PER_OUTPUT_SECOND)
        if "processing_per_output_second" in r.table
        else None
    )
    r.finish(frozenset(allow))
    return PhaseDelays(**values, processing_per_output_second=slope)


def _read_resolutions(r: Reader, model: str | None) -> list[tuple[str | None, str, PhaseDelays]]:
    table = r.sub("resolutions")
    for resolution in table.table:
        if resolution not in RESOLUTIONS:
            names = ", ".join(repr(x) for x in RESOLUTIONS)
            raise table.error(resolution, f"is not a resolution; expected one of {names}")
    return [(model, res, _read_phase_delays(table.sub(res))) for res in table.table]


def _read_delays(r: Reader) -> DelaysConfig:
    default = _read_phase_delays(r, allow=("models", "polls", "resolutions"))
    resolutions = _read_resolutions(r, None)
    models_reader = r.sub("models")
    models = []
    for model_id in models_reader.table:
        model_reader = models_reader.sub(model_id)
        models.append((model_id, _read_phase_delays(model_reader, allow=("resolutions",))))
        resolutions += _read_resolutions(model_reader, model_id)
    polls = r.sub("polls")
    config = DelaysConfig(
        default=default,
        models=tuple(models),
        queue_polls=polls.integer("queue", 0, maximum=MAX_COUNT),
        processing_polls=polls.integer("processing", 0, maximum=MAX_COUNT),
        resolutions=tuple(resolutions),
    )
    polls.finish()
    return config


def read_distribution(r: Reader, key: str) -> Distribution | None:
    """A duration: a number of seconds, or a table ``{kind = "uniform", low = 1, high = 3}``.

    Every parameter is finite and in range (seconds within ``0..MAX_SECONDS``, ``mu`` within
    ``MU_RANGE``, ``sigma`` at most ``MAX_SIGMA``), so every draw is finite and bounded."""
    raw = r.get(key, (int, float, dict), None)
    if raw is None:
        return None
    if not isinstance(raw, dict):
        return Distribution.fixed(r.number(key, 0.0, maximum=MAX_SECONDS))
    t = r.sub(key)
    kind: Kind = t.choice("kind", Kind, Kind.FIXED)
    maximum = t.number("max", 0.0, maximum=MAX_SECONDS) if "max" in t.table else None
    if kind is Kind.FIXED:
        dist = Distribution(kind=kind, seconds=_required_number(t, "seconds"))
    elif kind is Kind.UNIFORM:
        low, high = _required_number(t, "low"), _required_number(t, "high")
        if high < low:
            raise t.error("high", f"must be at least low ({low:g}), got {high:g}")
        dist = Distribution(kind=kind, low=low, high=high)
    elif kind is Kind.NORMAL:
        dist = Distribution(
            kind=kind, mean=_required_number(t, "mean"), stddev=_required_number(t, "stddev")
        )
    else:
        mu = _required_number(t, "mu", minimum=MU_RANGE[0], maximum=MU_RANGE[1])
        dist = Distribution(kind=kind, mu=mu, sigma=_required_number(t, "sigma", maximum=MAX_SIGMA))
    t.finish()
    return dist if maximum is None else replace(dist, maximum=maximum)


def _required_number(
    r: Reader, key: str, *, minimum: float = 0.0, maximum: float = MAX_SECONDS
) -> float:
    if key not in r.table:
        raise r.error(key, "is required for this kind of distribution")
    return r.number(key, 0.0, minimum=minimum, maximum=maximum)


def _strings(r: Reader, key: str) -> tuple[str, ...]:
    raw: str | list[Any] = r.get(key, (str, list), [])
    items = [raw] if isinstance(raw, str) else raw
    if not all(isinstance(item, str) and item for item in items):
        raise r.error(key, "expected a non-empty string or an array of them")
    return tuple(items)


def _choices(
    r: Reader, key: str, options: tuple[str, ...], *, upper: bool = False
) -> tuple[str, ...]:
    values = _strings(r, key)
    normal = tuple(v.upper() if upper else v.lower() for v in values)
    for value, shown in zip(normal, values, strict=True):
        if value not in options:
            names = ", ".join(repr(o) for o in options)
            raise r.error(key, f"must be one of {names}, got {shown!r}")
    return normal


_ACTION_PARAMS = frozenset(
    {
        "status",
        "message",
        "retry_after",
        "replenish_seconds",
        "at",
        "seconds",
        "chunks",
        "fraction",
        "processed",
        "copies",
    }
)
ACTIONS = (
    "http_error",
    "fail",
    "error",
    "latency",
    "reset",
    "empty",
    "truncate",
    "malformed",
    "dribble",
    "webhook_drop",
    "webhook_delay",
    "webhook_duplicate",
    "webhook_reorder",
)


def _read_action(r: Reader, action: str) -> Action:
    if action == "http_error":
        if "status" not in r.table:
            raise r.error("status", "is required for action 'http_error'")
        status = r.integer("status", 500)
        if status not in ERROR_STATUSES:
            options = ", ".join(str(s) for s in ERROR_STATUSES)
            raise r.error("status", f"must be one of {options}, got {status}")
        message = r.get("message", str, "") or None
        if message is not None and status not in (400, 500, 503):
            raise r.error("message", f"the {status} body is fixed by the contract; drop message")
        return HttpError(
            status=status,
            message=message,
            retry_after=r.integer("retry_after", 1, minimum=1, maximum=MAX_RETRY_AFTER),
            replenish_seconds=r.integer("replenish_seconds", 3600, maximum=MAX_RETRY_AFTER),
        )
    if action in ("fail", "error"):
        at = _choices(r, "at", ("QUEUED", "PROCESSING"), upper=True) or ("PROCESSING",)
        if len(at) != 1:
            raise r.error("at", "expected one phase")
        default = (
            "The model could not process the inputs."
            if action == "fail"
            else "Internal system error."
        )
        return EndJob(
            status="FAILED" if action == "fail" else "ERROR",
            at=at[0],
            message=r.get("message", str, default) or default,
        )
    if action in ("latency", "webhook_delay"):
        delay = read_distribution(r, "seconds")
        if delay is None:
            raise r.error("seconds", f"is required for action {action!r}")
        if action == "latency":
            return Latency(delay=delay)
        return WebhookFault(kind=WebhookKind.DELAY, delay=delay)
    if action == "webhook_duplicate":
        return WebhookFault(
            kind=WebhookKind.DUPLICATE, copies=r.integer("copies", 2, minimum=2, maximum=MAX_COPIES)
        )
    if action in ("webhook_drop", "webhook_reorder"):
        return WebhookFault(kind=WebhookKind(action.removeprefix("webhook_")))
    kind = BreakKind(action)
    if kind is BreakKind.DRIBBLE:
        if "seconds" not in r.table:
            raise r.error("seconds", "is required for action 'dribble'")
        return Break(
            kind=kind,
            seconds=r.number("seconds", 1.0, maximum=MAX_SECONDS),
            chunks=r.integer("chunks", 10, minimum=1, maximum=MAX_COUNT),
        )
    if kind is BreakKind.TRUNCATE:
        fraction = r.number("fraction", 0.5)
        if not 0.0 <= fraction < 1.0:
            raise r.error("fraction", f"must be at least 0 and below 1, got {fraction:g}")
        return Break(kind=kind, fraction=fraction)
    if kind is BreakKind.MALFORMED:
        return Break(kind=kind)
    return Break(kind=kind, processed=r.get("processed", bool, False))


def _read_rule(r: Reader) -> FaultRule:
    action_name = r.get("action", str, "")
    if action_name not in ACTIONS:
        options = ", ".join(repr(a) for a in ACTIONS)
        raise r.error("action", f"must be one of {options}, got {action_name!r}")
    action = _read_action(r, action_name)
    for key in r.table:
        if key in _ACTION_PARAMS and key not in r.used:
            raise r.error(key, f"is not used by action {action_name!r}")
    family = family_of(action)
    routes = frozenset(Route(v) for v in _choices(r, "route", tuple(Route)))
    allowed = {
        Family.REQUEST: {Route.GENERATE, Route.STATUS, Route.MEDIA},
        Family.JOB: {Route.GENERATE},
        Family.WEBHOOK: {Route.WEBHOOK},
    }[family]
    if routes - allowed:
        names = ", ".join(sorted(allowed))
        raise r.error("route", f"action {action_name!r} applies to route {names} only")
    phases = frozenset(_choices(r, "phase", PHASES, upper=True))
    if phases and family is Family.JOB:
        raise r.error("phase", "a job's end is chosen with 'at' (QUEUED or PROCESSING)")
    nth_raw: int | list[Any] = r.get("nth", (int, list), [])
    nth = [nth_raw] if isinstance(nth_raw, int) else nth_raw
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in nth):
        raise r.error("nth", "expected a count from 1, or an array of them")
    probability = r.number("probability", 1.0, maximum=1.0)
    scenario = r.get("scenario", str, "") or None
    rule = FaultRule(
        name=r.get("name", str, "") or r.prefix,
        action=action,
        routes=routes,
        keys=frozenset(_strings(r, "key")),
        models=frozenset(_strings(r, "model")),
        phases=phases,
        nth=frozenset(nth),
        probability=probability,
        scenario=scenario.removeprefix("mock-") if scenario else None,
    )
    r.finish()
    return rule


def _read_rules(rows: list[Reader]) -> tuple[FaultRule, ...]:
    rules: list[FaultRule] = []
    for row in rows:
        rule = _read_rule(row)
        if any(r.name == rule.name for r in rules):
            raise row.error("name", f"{rule.name!r} is already the name of another rule")
        rules.append(rule)
    return tuple(rules)


def _read_rate_limits(r: Reader) -> RateLimitsConfig:
    routes: list[tuple[str, BucketConfig]] = []
    for route in (Route.GENERATE, Route.STATUS, Route.MEDIA):
        if route.value not in r.table:
            continue
        b = r.sub(route.value)
        if "rate" not in b.table:
            raise b.error("rate", "is required (tokens per second)")
        rate = b.number("rate", 1.0, minimum=1e-9, maximum=MAX_RATE)
        burst = b.integer("burst", 1, minimum=1, maximum=MAX_COUNT)
        routes.append((route.value, BucketConfig(rate=rate, burst=burst)))
        b.finish()
    config = RateLimitsConfig(
        routes=tuple(routes),
        concurrent_jobs=r.integer("concurrent_jobs", 0, maximum=MAX_COUNT),
        concurrent_retry_after=r.integer(
            "concurrent_retry_after", 5, minimum=1, maximum=MAX_RETRY_AFTER
        ),
    )
    r.finish()
    return config
