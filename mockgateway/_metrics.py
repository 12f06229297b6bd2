"""Operating metrics in the Prometheus text exposition format (version 0.0.4).

Request counts and latencies are counted as each request is answered: the edge's wrapper
(:func:`mockgateway.web._bind.bind`)
holds one :class:`RouteMetrics` per journal route and calls :meth:`RouteMetrics.observe`, which
only increments (no label tuples, no per-request objects). They count from the moment the gateway
starts, and ``POST /_mock/reset`` leaves them alone, as counters should.

Jobs, money and webhook attempts are read from the gateway's state when scraped
(:class:`StateSnapshot`), so they describe what the gateway holds now: they start again from zero
at ``POST /_mock/reset``, which Prometheus reads as a counter reset.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Upper bounds (seconds) of the latency histogram's buckets; the last bucket is +Inf.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

WEBHOOK_OUTCOMES = ("delivered", "rejected", "failed", "blocked")


class RouteMetrics:
    """Counts for one journal route: answers by status, and a latency histogram."""

    __slots__ = ("buckets", "seconds", "statuses")

    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.buckets = [0] * (len(LATENCY_BUCKETS) + 1)  # per bucket, not yet cumulative
        self.seconds = 0.0

    def observe(self, status: int, seconds: float) -> None:
        self.statuses[status] += 1
        self.buckets[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.seconds += seconds


class Metrics:
    """The request metrics of one served gateway, one :class:`RouteMetrics` per route."""

    def __init__(self) -> None:
        self.routes: dict[str, RouteMetrics] = {}

    def route(self, name: str) -> RouteMetrics:
        return self.routes.setdefault(name, RouteMetrics())


@dataclass(frozen=True, slots=True, kw_only=True)
class StateSnapshot:
    """What the gateway holds when scraped. Money amounts are exact decimal strings."""

    jobs: Mapping[str, int]  # by status, every status listed
    webhook_attempts: Mapping[str, int]  # by outcome, every outcome listed
    money_held: str
    money_charged: str


def webhook_outcome(status: int | None, error: str | None) -> str:
    """``delivered`` (2xx), ``rejected`` (another status), ``blocked`` (host not allowed) or
    ``failed`` (no answer: refused, timed out, reset)."""
    if status is not None:
        return "delivered" if 200 <= status < 300 else "rejected"
    return "blocked" if error and error.startswith("blocked") else "failed"


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _bound(value: float) -> str:
    return repr(float(value))  # 1.0, not 1: the form Prometheus clients print


def render(metrics: Metrics, state: StateSnapshot) -> str:
    """The exposition text: every family with HELP and TYPE, labels sorted for stable output."""
    name = "mockgateway_requests_total"
    lines = _family(name, "counter", "Requests answered, by route and status (none: no answer).")
    routes = sorted(metrics.routes.items())
    for route, counts in routes:
        for status, count in sorted(counts.statuses.items()):
            shown = status or "none"
            lines.append(f'{name}{{route="{route}",status="{shown}"}} {count}')
    name = "mockgateway_request_duration_seconds"
    lines += _family(name, "histogram", "Time to answer a request (real seconds), by route.")
    for route, counts in routes:
        running = 0
        bounds: Iterable[str] = [*map(_bound, LATENCY_BUCKETS), "+Inf"]
        for bound, count in zip(bounds, counts.buckets, strict=True):
            running += count
            lines.append(f'{name}_bucket{{route="{route}",le="{bound}"}} {running}')
        lines.append(f'{name}_sum{{route="{route}"}} {counts.seconds!r}')
        lines.append(f'{name}_count{{route="{route}"}} {running}')
    lines += _family("mockgateway_jobs", "gauge", "Jobs the gateway holds, by status.")
    for job_status, count in state.jobs.items():
        lines.append(f'mockgateway_jobs{{status="{job_status}"}} {count}')
    name = "mockgateway_webhook_attempts_total"
    lines += _family(name, "counter", "Webhook attempts, by outcome.")
    for outcome, count in state.webhook_attempts.items():
        lines.append(f'{name}{{outcome="{outcome}"}} {count}')
    lines += _family("mockgateway_money_held", "gauge", "Money held for jobs not yet settled.")
    lines.append(f"mockgateway_money_held {state.money_held}")
    name = "mockgateway_money_charged_total"
    lines += _family(name, "counter", "Money charged for finished jobs.")
    lines.append(f"{name} {state.money_charged}")
    return "\n".join(lines) + "\n"
