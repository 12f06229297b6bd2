"""The engine: apply every rule to a journal and gather a :class:`Verdict`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from .._journal import JournalEntry
from ..models import ModelSpec
from ._cost import cost_of
from ._model import ClientRun, Evidence, Rule, RuleResult, Verdict, Violation
from ._rules_polling import POLLING_RULES
from ._rules_request import REQUEST_RULES
from ._rules_retry import RETRY_RULES
from ._rules_webhook import WEBHOOK_RULES
from ._settings import CheckerSettings
from ._view import JournalView

RULES: tuple[Rule, ...] = (*REQUEST_RULES, *POLLING_RULES, *RETRY_RULES, *WEBHOOK_RULES)
RULE_IDS: frozenset[str] = frozenset(r.id for r in RULES)
# what counts as having exercised the vendor API: the operator API and stray paths do not
API_ROUTES = frozenset({"generate", "status", "media"})


def rule(rule_id: str) -> Rule:
    for r in RULES:
        if r.id == rule_id:
            return r
    raise KeyError(f"no rule {rule_id!r}; known: {', '.join(sorted(RULE_IDS))}")


def check(
    entries: Iterable[JournalEntry],
    settings: CheckerSettings | None = None,
    *,
    client_run: ClientRun | None = None,
    require_traffic: bool = False,
    budget: Decimal | None = None,
    billing: Mapping[str, Mapping[str, Any]] | None = None,
    models: Iterable[ModelSpec] | None = None,
) -> Verdict:
    """Judge a journal against every rule; pure, so a saved journal judges the same way.

    ``billing``: the gateway's billing record per request id, for a live run (a saved journal
    carries what it knows in its status entries). ``models``: the models the gateway ran with
    (``GatewayConfig.models``; the built-in ones unless given), each generate request judged by
    the one its path calls.
    """
    settings = settings or CheckerSettings()
    entries = list(entries)
    view = JournalView(entries, models)
    results: list[RuleResult] = []
    for r in RULES:
        severity = settings.severities.get(r.id, r.severity)
        if r.id in settings.disabled:
            results.append(RuleResult(rule=r, severity=severity, violations=(), enabled=False))
            continue
        violations = tuple(
            Violation(
                rule_id=r.id,
                severity=severity,
                message=f.message,
                client=f.client,
                evidence=tuple(Evidence.from_entry(e) for e in f.entries),
            )
            for f in r.check(view, settings)
        )
        results.append(RuleResult(rule=r, severity=severity, violations=violations))
    return Verdict(
        results=tuple(results),
        entry_count=len(view.entries),
        clients=view.clients,
        origin=view.origin,
        client_run=client_run,
        traffic=sum(1 for e in view.requests if e.route in API_ROUTES),
        require_traffic=require_traffic,
        cost=cost_of(entries, billing, {m.id: m.per.value for m in view.models.values()}),
        budget=budget,
    )
