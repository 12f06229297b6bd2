"""The built-in scenarios, reached like payment test cards: the key ``mock-<name>`` or the header
``X-Mock-Scenario: <name>`` selects scenario ``<name>`` for that request.

Each scenario is a list of ordinary fault rules restricted to that scenario; a scenario file can
add its own (``scenario = "<name>"`` on a ``[[faults]]`` rule) or extend these.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._distributions import Distribution
from ._rules import (
    Break,
    BreakKind,
    EndJob,
    FaultRule,
    HttpError,
    Latency,
    Route,
    WebhookFault,
    WebhookKind,
)

KEY_PREFIX = "mock-"
HEADER = "X-Mock-Scenario"


@dataclass(frozen=True, slots=True)
class BuiltinScenario:
    name: str
    summary: str
    rules: tuple[FaultRule, ...]


def _rule(
    name: str, action: HttpError | EndJob | Latency | Break | WebhookFault, *routes: Route
) -> FaultRule:
    return FaultRule(
        name=f"scenario {name}", action=action, routes=frozenset(routes), scenario=name
    )


def builtin_scenarios(retry_after: int) -> dict[str, BuiltinScenario]:
    """The table documented in docs/scenarios.md; ``retry_after`` is the ``mock-429`` wait."""
    gen = Route.GENERATE
    table = [
        BuiltinScenario(
            "401",
            "every request answers 401 as for an unknown key",
            (_rule("401", HttpError(status=401)),),
        ),
        BuiltinScenario(
            "402",
            "generate answers 402 Insufficient Balance",
            (_rule("402", HttpError(status=402), gen),),
        ),
        BuiltinScenario(
            "403",
            "every request answers 403 out of call volume quota",
            (_rule("403", HttpError(status=403)),),
        ),
        BuiltinScenario(
            "429",
            f"every request answers 429 with Retry-After: {retry_after}",
            (_rule("429", HttpError(status=429, retry_after=retry_after)),),
        ),
        BuiltinScenario(
            "500",
            "every request answers 500 Internal Server Error",
            (_rule("500", HttpError(status=500)),),
        ),
        BuiltinScenario(
            "503",
            "every request answers 503 Service Unavailable",
            (_rule("503", HttpError(status=503)),),
        ),
        BuiltinScenario(
            "failed",
            "the job is accepted, processes, then ends FAILED (not charged by default)",
            (
                _rule(
                    "failed",
                    EndJob(
                        status="FAILED",
                        at="PROCESSING",
                        message="The model could not process the inputs (mock-failed scenario).",
                    ),
                ),
            ),
        ),
        BuiltinScenario(
            "error",
            "the job is accepted, processes, then ends ERROR (system error, not charged)",
            (
                _rule(
                    "error",
                    EndJob(
                        status="ERROR",
                        at="PROCESSING",
                        message="Internal system error (mock-error scenario).",
                    ),
                ),
            ),
        ),
        BuiltinScenario(
            "slow",
            "every answer is held back 5 gateway seconds",
            (_rule("slow", Latency(delay=Distribution.fixed(5.0))),),
        ),
        BuiltinScenario(
            "reset",
            "every request's connection is reset",
            (_rule("reset", Break(kind=BreakKind.RESET)),),
        ),
        BuiltinScenario(
            "webhook-drop",
            "the job's webhooks are never sent",
            (_rule("webhook-drop", WebhookFault(kind=WebhookKind.DROP), Route.WEBHOOK),),
        ),
    ]
    return {s.name: s for s in table}
