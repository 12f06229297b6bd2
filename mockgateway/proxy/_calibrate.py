"""Fitting a scenario from proxy recordings. Pure: HAR data in, TOML text and fit quality out.

From each job's transitions (the upstream's own timestamps: ``created_at``, the ``updated_at``
of its first PROCESSING answer, ``completed_at``) come its queue and processing times, fitted
per model and resolution to the distribution the scenario format has (fixed, uniform, normal,
lognormal) whose deciles match best; where processing grows with the output's length, a line
fitted robustly (Theil-Sen) gives ``processing_per_output_second`` and the distribution fits what
is left. FAILED and ERROR outcomes become ``fail`` / ``error`` fault rules with their messages
and rates; 429 answers a ``http_error`` rule per route with the median ``Retry-After``.
"""

from __future__ import annotations

import json
import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..faults._config import RESOLUTIONS
from ..faults._distributions import MAX_SIGMA, MU_RANGE, Distribution, Kind
from ._record import LOCAL_NOTE

TERMINAL = ("COMPLETED", "FAILED", "ERROR")
_QUANTILES = tuple(q / 10 for q in range(1, 10))
MIN_SLOPE_R2 = 0.3  # how much of the processing time the output's length must explain
MIN_SLOPE_SPREAD = 1.0  # seconds of output between the shortest and the longest job


@dataclass(frozen=True, slots=True, kw_only=True)
class JobSample:
    model_id: str
    resolution: str
    status: str | None
    error: str | None
    queue: float | None
    processing: float | None
    output_seconds: float | None
    failed_at: str  # QUEUED or PROCESSING: the last phase before a FAILED/ERROR end


@dataclass(slots=True, kw_only=True)
class Recordings:
    jobs: list[JobSample] = field(default_factory=list)
    # route -> (answers from the upstream, Retry-After of each 429)
    answers: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    retry_after: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))


@dataclass(frozen=True, slots=True, kw_only=True)
class Fit:
    toml: str
    quality: tuple[str, ...]
    empty: bool = False  # nothing in the recordings to fit


def parse_time(text: Any) -> float | None:
    """An upstream timestamp (the doc's ``2026-03-31T10:00:15.000Z``, or other ISO 8601 forms)
    as Unix seconds; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp.timestamp() if stamp.tzinfo is not None else None


_JOB_FIELDS: dict[str, tuple[type, ...]] = {
    "request_id": (str,), "model_id": (str,), "resolution": (str,), "created_at": (str,),
    "completed_at": (str,), "status": (str,), "error": (str,), "output_seconds": (int, float),
    "submitted_at": (int, float), "transitions": (list,),
}  # fmt: skip
_TRANSITION_FIELDS: dict[str, tuple[type, ...]] = {
    "status": (str,),
    "updated_at": (str,),
    "seen_at": (int, float),
}


def _type_problem(value: Any, types: tuple[type, ...]) -> bool:
    return value is not None and (isinstance(value, bool) or not isinstance(value, types))


def job_problem(job: Any, where: str) -> str | None:
    """What is wrong with one ``log._jobs`` entry as the proxy writes it, or None."""
    if not isinstance(job, Mapping):
        return f"{where} must be an object, got {json.dumps(job)[:60]}"
    for name, types in _JOB_FIELDS.items():
        if _type_problem(job.get(name), types):
            kind = "a list" if types == (list,) else ("a number" if int in types else "a string")
            return f"{where}.{name} must be {kind} or null, got {json.dumps(job.get(name))[:60]}"
    for k, t in enumerate(job.get("transitions") or ()):
        if not isinstance(t, Mapping):
            return f"{where}.transitions[{k}] must be an object, got {json.dumps(t)[:60]}"
        for name, types in _TRANSITION_FIELDS.items():
            if _type_problem(t.get(name), types):
                kind = "a number" if int in types else "a string"
                return (
                    f"{where}.transitions[{k}].{name} must be {kind} or null, "
                    f"got {json.dumps(t.get(name))[:60]}"
                )
    return None


def _job_sample(job: Mapping[str, Any], default_resolution: str) -> JobSample | None:
    model = job.get("model_id")
    if not isinstance(model, str):
        return None
    transitions = [t for t in job.get("transitions") or () if isinstance(t, Mapping)]
    statuses = [t.get("status") for t in transitions]
    created = parse_time(job.get("created_at"))
    started = next(
        (parse_time(t.get("updated_at")) for t in transitions if t.get("status") == "PROCESSING"),
        None,
    )
    status = job.get("status") if isinstance(job.get("status"), str) else None
    ended = parse_time(job.get("completed_at")) if status in TERMINAL else None
    queue = started - created if started is not None and created is not None else None
    processing = ended - started if ended is not None and started is not None else None
    seconds = job.get("output_seconds")
    resolution = job.get("resolution")
    return JobSample(
        model_id=model,
        resolution=resolution if isinstance(resolution, str) else default_resolution,
        status=status,
        error=job.get("error") if isinstance(job.get("error"), str) else None,
        queue=queue if queue is not None and queue >= 0 else None,
        processing=processing if processing is not None and processing >= 0 else None,
        output_seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
        failed_at="PROCESSING" if "PROCESSING" in statuses else "QUEUED",
    )


def load_recordings(
    hars: Iterable[Mapping[str, Any]], *, default_resolution: str = "1080p"
) -> Recordings:
    """Jobs and answers of proxy recordings (HAR documents with ``log._jobs``); a ValueError
    naming what is missing when one is not such a recording."""
    rec = Recordings()
    for i, har in enumerate(hars):
        log = har.get("log") if isinstance(har, Mapping) else None
        if not isinstance(log, Mapping) or not isinstance(log.get("_jobs"), list):
            raise ValueError(
                f"recording {i + 1} has no log._jobs: record it with 'mockgateway proxy --record'"
            )
        for j, job in enumerate(log["_jobs"]):
            problem = job_problem(job, f"log._jobs[{j}]")
            if problem is not None:
                raise ValueError(f"recording {i + 1}: {problem}")
            sample = _job_sample(job, default_resolution)
            if sample is not None:
                rec.jobs.append(sample)
        for e in log.get("entries") or ():
            if not isinstance(e, Mapping) or e.get("_kind") != "request":
                continue
            route = e.get("_route")
            if route not in ("generate", "status", "media") or LOCAL_NOTE in str(e.get("comment")):
                continue
            response = e.get("response") or {}
            status = response.get("status")
            if not isinstance(status, int) or status == 0:
                continue
            rec.answers[route].append(status)
            if status == 429:
                for h in response.get("headers") or ():
                    if str(h.get("name", "")).lower() == "retry-after":
                        value = str(h.get("value", "")).strip()
                        if value.isdigit():
                            rec.retry_after[route].append(int(value))
    return rec


# distributions ------------------------------------------------------------------------------


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    pos = q * (len(ordered) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def dist_quantile(d: Distribution, q: float) -> float:
    if d.kind is Kind.FIXED:
        return d.seconds
    if d.kind is Kind.UNIFORM:
        return d.low + q * (d.high - d.low)
    z = statistics.NormalDist().inv_cdf(q)
    if d.kind is Kind.NORMAL:
        return max(0.0, d.mean + z * d.stddev)
    return math.exp(d.mu + z * d.sigma)


def _candidates(values: Sequence[float]) -> list[Distribution]:
    low, high = min(values), max(values)
    mean = statistics.fmean(values)
    found = [Distribution.fixed(round(statistics.median(values), 4))]
    if high - low > 1e-9 and len(values) >= 3:
        found.append(Distribution(kind=Kind.UNIFORM, low=round(low, 4), high=round(high, 4)))
        stdev = statistics.stdev(values)
        found.append(Distribution(kind=Kind.NORMAL, mean=round(mean, 4), stddev=round(stdev, 4)))
        positive = [v for v in values if v > 0]
        if len(positive) == len(values):
            logs = [math.log(v) for v in positive]
            mu = min(max(statistics.fmean(logs), MU_RANGE[0]), MU_RANGE[1])
            sigma = min(statistics.stdev(logs), MAX_SIGMA)
            found.append(Distribution(kind=Kind.LOGNORMAL, mu=round(mu, 5), sigma=round(sigma, 5)))
    return found


def fit_distribution(values: Sequence[float]) -> Distribution:
    """The candidate whose deciles are nearest the data's (relative error, summed)."""
    scale = max(statistics.median(values), 1e-6)

    def error(d: Distribution) -> float:
        return sum(abs(dist_quantile(d, q) - quantile(values, q)) for q in _QUANTILES) / scale

    return min(_candidates(values), key=error)


def _toml_dist(d: Distribution) -> str:
    if d.kind is Kind.FIXED:
        return f"{d.seconds:g}"
    if d.kind is Kind.UNIFORM:
        return f'{{ kind = "uniform", low = {d.low:g}, high = {d.high:g} }}'
    if d.kind is Kind.NORMAL:
        return f'{{ kind = "normal", mean = {d.mean:g}, stddev = {d.stddev:g} }}'
    return f'{{ kind = "lognormal", mu = {d.mu:g}, sigma = {d.sigma:g} }}'


def _quality(name: str, recorded: Sequence[float], fitted: Sequence[float], how: str) -> str:
    return (
        f"{name}: n={len(recorded)}, median recorded {quantile(recorded, 0.5):.3f} s fitted "
        f"{quantile(fitted, 0.5):.3f} s, p90 recorded {quantile(recorded, 0.9):.3f} s fitted "
        f"{quantile(fitted, 0.9):.3f} s ({how})"
    )


def _draws(d: Distribution, n: int, rng: random.Random) -> list[float]:
    return [d.sample(rng) for _ in range(n)]


@dataclass(frozen=True, slots=True)
class Slope:
    per_second: float
    r2: float


def _mad(values: Sequence[float]) -> float:
    middle = statistics.median(values)
    return statistics.median(abs(v - middle) for v in values)


def fit_slope(xs: Sequence[float], ys: Sequence[float]) -> Slope | None:
    """``y = a + b x`` by Theil-Sen (the median of the slopes between pairs of points), which a
    few stalled jobs cannot drag; None unless ``b`` > 0 explains enough of ``y``'s spread
    (``r2`` here: one less the squared ratio of the residuals' and ``y``'s median deviations)."""
    if len(xs) < 5 or max(xs) - min(xs) < MIN_SLOPE_SPREAD:
        return None
    points = list(zip(xs, ys, strict=True))
    if len(points) > 400:  # the pairs grow as the square: a fixed, spread subsample is enough
        points = random.Random(0).sample(points, 400)
    slopes = [
        (y2 - y1) / (x2 - x1)
        for i, (x1, y1) in enumerate(points)
        for x2, y2 in points[i + 1 :]
        if abs(x2 - x1) > 1e-9
    ]
    if not slopes:
        return None
    b = statistics.median(slopes)
    spread = _mad(ys)
    if b <= 0 or spread <= 0:
        return None
    residuals = [y - b * x for x, y in zip(xs, ys, strict=True)]
    r2 = 1.0 - (_mad(residuals) / spread) ** 2
    return Slope(round(b, 5), r2) if r2 >= MIN_SLOPE_R2 else None


def _delays(rec: Recordings, lines: list[str], quality: list[str]) -> None:
    groups: dict[tuple[str, str], list[JobSample]] = defaultdict(list)
    for job in rec.jobs:
        groups[(job.model_id, job.resolution)].append(job)
    rng = random.Random(0)
    for (model, resolution), jobs in sorted(groups.items()):
        queue = [j.queue for j in jobs if j.queue is not None]
        done = [j for j in jobs if j.status == "COMPLETED" and j.processing is not None]
        if not queue and not done:
            continue
        if resolution not in RESOLUTIONS:
            quality.append(f"{model} {resolution}: {len(jobs)} job(s) left out: not a resolution")
            continue
        lines.append(f"[delays.models.{_toml_str(model)}.resolutions.{_toml_str(resolution)}]")
        label = f"{model} {resolution}"
        if queue:
            d = fit_distribution(queue)
            lines.append(f"queue = {_toml_dist(d)}")
            quality.append(
                _quality(f"queue {label}", queue, _draws(d, 20 * len(queue), rng), d.describe())
            )
        if done:
            processing = [j.processing or 0.0 for j in done]
            measured = [j for j in done if j.output_seconds is not None]
            slope = None
            if len(measured) >= 0.8 * len(done):
                xs = [j.output_seconds or 0.0 for j in measured]
                slope = fit_slope(xs, [j.processing or 0.0 for j in measured])
            if slope is None:
                d = fit_distribution(processing)
                lines.append(f"processing = {_toml_dist(d)}")
                fitted = _draws(d, 20 * len(processing), rng)
                quality.append(_quality(f"processing {label}", processing, fitted, d.describe()))
            else:
                base = [
                    max(0.0, (j.processing or 0.0) - slope.per_second * (j.output_seconds or 0.0))
                    for j in measured
                ]
                d = fit_distribution(base)
                lines.append(f"processing = {_toml_dist(d)}")
                lines.append(f"processing_per_output_second = {slope.per_second:g}")
                fitted = [
                    d.sample(rng) + slope.per_second * (j.output_seconds or 0.0)
                    for j in measured
                    for _ in range(20)
                ]
                recorded = [j.processing or 0.0 for j in measured]
                how = (
                    f"{d.describe()} + {slope.per_second:g} s per output second, r2 {slope.r2:.2f}"
                )
                quality.append(_quality(f"processing {label}", recorded, fitted, how))
        lines.append("")


def _toml_str(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in escaped)
    return f'"{escaped}"'


def _outcomes(rec: Recordings, lines: list[str], quality: list[str]) -> None:
    by_model: dict[str, list[JobSample]] = defaultdict(list)
    for job in rec.jobs:
        if job.status in TERMINAL:
            by_model[job.model_id].append(job)
    for model, jobs in sorted(by_model.items()):
        ends = Counter(
            (j.status, j.error or "", j.failed_at) for j in jobs if j.status in ("FAILED", "ERROR")
        )
        left = 1.0
        for n, ((status, message, at), count) in enumerate(sorted(ends.items()), start=1):
            rate = count / len(jobs)
            # rules draw in turn and the first that fires ends the job: each one's chance is
            # its share of the jobs the rules before it left alone
            probability = min(1.0, rate / left) if left > 0 else 1.0
            left -= rate
            action = "fail" if status == "FAILED" else "error"
            lines += [
                "[[faults]]",
                f"name = {_toml_str(f'calibrated-{action}-{model}-{n}')}",
                f'action = "{action}"',
                f'at = "{at}"',
                'route = "generate"',
                f"model = {_toml_str(model)}",
                f"probability = {probability:.6g}",
            ]
            if message:
                lines.append(f"message = {_toml_str(message)}")
            lines.append("")
            quality.append(
                f"{status} {model} ({message or 'no message'}): {count} of {len(jobs)} "
                f"finished jobs, rate {rate:.3f}"
            )


def _rate_limits(rec: Recordings, lines: list[str], quality: list[str]) -> None:
    for route in ("generate", "status", "media"):
        statuses = rec.answers.get(route, [])
        limited = sum(1 for s in statuses if s == 429)
        if not limited:
            continue
        rate = limited / len(statuses)
        waits = rec.retry_after.get(route) or [1]
        retry = max(1, round(statistics.median(waits)))
        lines += [
            "[[faults]]",
            f'name = "calibrated-429-{route}"',
            'action = "http_error"',
            "status = 429",
            f'route = "{route}"',
            f"probability = {rate:.6g}",
            f"retry_after = {retry}",
            "",
        ]
        quality.append(
            f"429 on {route}: {limited} of {len(statuses)} answers, rate {rate:.3f}; Retry-After "
            f"median {statistics.median(waits):g} s (min {min(waits)}, max {max(waits)})"
        )


def fit_scenario(rec: Recordings) -> Fit:
    """The scenario a gateway serves to behave like the recorded service, and how well it fits."""
    lines = [
        "# A scenario fitted by 'mockgateway calibrate' from proxy recordings.",
        f"# {len(rec.jobs)} job(s); serve it with: mockgateway serve --config <this file>",
        "",
    ]
    quality: list[str] = []
    _delays(rec, lines, quality)
    _outcomes(rec, lines, quality)
    _rate_limits(rec, lines, quality)
    empty = not quality
    if empty:
        quality.append(
            "nothing to fit: the recordings hold no job with its timestamps and no answer of "
            "the upstream"
        )
    return Fit(toml="\n".join(lines).rstrip() + "\n", quality=tuple(quality), empty=empty)
