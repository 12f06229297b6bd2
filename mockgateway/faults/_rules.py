"""Fault rules as values: what a rule matches and what it does, and the pure matching test.

A rule belongs to one of three families, decided by its action: a *request* action answers or
breaks an HTTP exchange (error, latency, connection faults), a *job* action decides how a job ends
(FAILED or ERROR at a phase), a *webhook* action changes a webhook delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .._errors import (
    ApiError,
    bad_request,
    insufficient_balance,
    internal_error,
    invalid_key,
    quota_exceeded,
    rate_limited,
    service_unavailable,
)
from ._distributions import ZERO, Distribution


class Route(StrEnum):
    GENERATE = "generate"
    STATUS = "status"
    MEDIA = "media"
    WEBHOOK = "webhook"


REQUEST_ROUTES = frozenset({Route.GENERATE, Route.STATUS, Route.MEDIA})


class BreakKind(StrEnum):
    RESET = "reset"
    EMPTY = "empty"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    DRIBBLE = "dribble"


class WebhookKind(StrEnum):
    DROP = "drop"
    DELAY = "delay"
    DUPLICATE = "duplicate"
    REORDER = "reorder"


ERROR_STATUSES = (400, 401, 402, 403, 429, 500, 503)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpError:
    """Answer with one of the documented error bodies instead of the real answer."""

    status: int
    message: str | None = None
    retry_after: int = 1
    replenish_seconds: int = 3600

    def api_error(self) -> ApiError:
        """The wire error, built from the one table in :mod:`mockgateway._errors`."""
        if self.status == 400:
            return bad_request(self.message or "The request was rejected by the mock scenario.")
        if self.status == 401:
            return invalid_key()
        if self.status == 402:
            return insufficient_balance()
        if self.status == 403:
            return quota_exceeded(self.replenish_seconds)
        if self.status == 429:
            return rate_limited(self.retry_after)
        if self.status == 503:
            return service_unavailable(self.message or "The service is temporarily unavailable.")
        return internal_error(
            self.message or "An unexpected error occurred. Please try again later."
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class EndJob:
    """End the job with ``status`` (FAILED or ERROR) when it reaches phase ``at``.

    ``at = "QUEUED"``: instead of starting processing; ``at = "PROCESSING"``: instead of
    completing, once the processing time has passed.
    """

    status: str
    at: str = "PROCESSING"
    message: str = "The request could not be processed."


@dataclass(frozen=True, slots=True, kw_only=True)
class Latency:
    """Hold the answer back for a drawn number of gateway seconds."""

    delay: Distribution = ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class Break:
    """Break the HTTP exchange.

    ``reset``: the connection is reset (RST); ``empty``: closed with no response at all;
    ``truncate``: the headers promise the full body but only ``fraction`` of it is sent;
    ``malformed``: a complete response whose JSON body is cut (invalid JSON); ``dribble``: the
    real body, sent in ``chunks`` pieces spread over ``seconds`` of gateway time.
    ``processed``: for reset and empty, whether the gateway handles the request first (so a job
    may exist although the client saw no answer).
    """

    kind: BreakKind
    seconds: float = 0.0
    chunks: int = 10
    fraction: float = 0.5
    processed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookFault:
    """``drop``: never sent; ``delay``: sent ``delay`` later; ``duplicate``: sent ``copies``
    times; ``reorder``: a job's callbacks are held and sent newest first once it ends."""

    kind: WebhookKind
    delay: Distribution = ZERO
    copies: int = 2


Action = HttpError | EndJob | Latency | Break | WebhookFault


def action_name(action: Action) -> str:
    """The action's name as a scenario file spells it (``http_error``, ``reset``, ...)."""
    if isinstance(action, HttpError):
        return "http_error"
    if isinstance(action, EndJob):
        return "fail" if action.status == "FAILED" else "error"
    if isinstance(action, Latency):
        return "latency"
    if isinstance(action, Break):
        return action.kind.value
    return f"webhook_{action.kind.value}"


class Family(StrEnum):
    REQUEST = "request"
    JOB = "job"
    WEBHOOK = "webhook"


def family_of(action: Action) -> Family:
    if isinstance(action, EndJob):
        return Family.JOB
    if isinstance(action, WebhookFault):
        return Family.WEBHOOK
    return Family.REQUEST


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRule:
    """When (the match fields; empty means any) and what (the action).

    ``nth`` counts the exchanges this rule's other fields matched, from 1, per rule; the rule fires
    on those counts only. ``probability`` is rolled on the rule's own seeded stream after the other
    fields match. ``scenario``: the rule applies only to requests that selected that scenario (by a
    ``mock-<name>`` key or the ``X-Mock-Scenario`` header).
    """

    name: str
    action: Action
    routes: frozenset[Route] = frozenset()
    keys: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()
    phases: frozenset[str] = frozenset()
    nth: frozenset[int] = frozenset()
    probability: float = 1.0
    scenario: str | None = None

    @property
    def family(self) -> Family:
        return family_of(self.action)


@dataclass(frozen=True, slots=True, kw_only=True)
class Context:
    """What a rule can match on: one request, one job submission or one webhook delivery."""

    route: Route
    key: str | None = None
    model: str | None = None
    phase: str | None = None
    scenario: str | None = None


def matches(rule: FaultRule, ctx: Context) -> bool:
    """The deterministic part of matching (everything but ``nth`` and ``probability``)."""
    if rule.scenario is not None and rule.scenario != ctx.scenario:
        return False
    if rule.routes:
        if ctx.route not in rule.routes:
            return False
    elif rule.family is Family.WEBHOOK:
        if ctx.route is not Route.WEBHOOK:
            return False
    elif ctx.route not in REQUEST_ROUTES:
        return False
    if rule.keys and ctx.key not in rule.keys:
        return False
    if rule.models and ctx.model not in rule.models:
        return False
    return not rule.phases or ctx.phase in rule.phases
