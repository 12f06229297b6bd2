"""The readable verdict printed by ``mockgateway check`` and used in pytest failures."""

from __future__ import annotations

from datetime import UTC, datetime

from .._billing import money_str
from ._model import (
    NO_TRAFFIC,
    NO_TRAFFIC_MESSAGE,
    Evidence,
    RuleResult,
    Severity,
    Verdict,
    Violation,
)


def clock_time(t: float) -> str:
    """Gateway time as ``HH:MM:SS.mmm`` UTC, enough to line requests up."""
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def format_evidence(e: Evidence, origin: float | None) -> str:
    rel = f" (t+{e.started_at - origin:.3f} s)" if origin is not None else ""
    outcome = str(e.status) if e.status is not None else "no answer"
    if e.error:
        outcome += f", {e.error}"
    label = "webhook " if e.kind == "webhook" else ""
    return f"#{e.seq} {clock_time(e.started_at)}{rel} {label}{e.method} {e.url} -> {outcome}"


def client_label(client: str | None) -> str:
    return f"client {client}" if client else "client without a key"


def format_violation(v: Violation, origin: float | None, indent: str = "  ") -> list[str]:
    lines = [f"{indent}{client_label(v.client)}: {v.message}"]
    lines.extend(f"{indent}    {format_evidence(e, origin)}" for e in v.evidence)
    return lines


def format_result(result: RuleResult, origin: float | None) -> list[str]:
    r = result.rule
    lines = [f"{result.severity.value.upper()} {r.id} [{r.source.value}]: {r.statement}"]
    for v in result.violations:
        lines.extend(format_violation(v, origin))
    lines.append(f"  how to fix: {r.how_to_fix}")
    return lines


def render_text(verdict: Verdict) -> str:
    """Every broken rule with its evidence and how to fix it, then the rules that held."""
    errors = verdict.count(Severity.ERROR)
    warnings = verdict.count(Severity.WARNING)
    infos = verdict.count(Severity.INFO)
    head = "PASSED" if verdict.passed else "FAILED"
    reasons = verdict.reasons()
    lines = [
        f"mockgateway check: {head}: {errors} error(s), {warnings} warning(s), {infos} info; "
        f"{len(verdict.results)} rules over {verdict.entry_count} journal entries; "
        f"cost {money_str(verdict.cost.usd)} USD"
        + (f"; why: {'; '.join(reasons)}" if reasons else "")
    ]
    run = verdict.client_run
    if run is not None:
        mark = "CLIENT FAILED: " if run.failed else "client: "
        lines.append(mark + run.describe())
    if verdict.no_traffic:
        lines.append(
            f"FAILED {NO_TRAFFIC}: {NO_TRAFFIC_MESSAGE} (no generate, status or media request), "
            "so nothing was checked"
        )
    cost = verdict.cost
    lines.append("cost: " + cost.describe())
    if cost.unfinished:
        lines.append(
            f"  {cost.unfinished} job(s) not seen ending: {money_str(cost.pending_usd)} USD more "
            "if they complete (the real gateway finishes them), counted against a budget"
            + (f"; {cost.unpriced} not priced yet" if cost.unpriced else "")
        )
    if verdict.budget is not None:
        lines.append(
            ("BUDGET EXCEEDED: " if verdict.over_budget else "budget: ") + verdict.budget_message()
        )
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    broken = sorted((r for r in verdict.results if r.violations), key=lambda r: order[r.severity])
    for result in broken:
        lines.append("")
        lines.extend(format_result(result, verdict.origin))
    held = [r.rule.id for r in verdict.results if r.enabled and not r.violations]
    off = [r.rule.id for r in verdict.results if not r.enabled]
    lines.append("")
    if verdict.no_traffic:
        lines.append("rules that held: none, there was nothing to judge")
    else:
        lines.append("rules that held: " + (", ".join(held) if held else "none"))
    if off:
        lines.append("rules disabled: " + ", ".join(off))
    text = "\n".join(lines) + "\n"
    # client-sent text may hold lone surrogates, which no terminal or file encoding accepts
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
