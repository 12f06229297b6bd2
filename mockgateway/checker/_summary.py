"""The pytest run's closing section: which tests broke which rules, counted over the session.

Each test's outcome travels in its report's ``user_properties`` as one readable string (xdist
ships reports from workers to the controller, and ``--junitxml`` shows the property as is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .._billing import money_str
from .._errors import ContractViolation
from ._cost import Cost
from ._model import Verdict

PROPERTY = "mockgateway"
COST_PROPERTY = "mockgateway-cost"
_OFF = " [check off]"
_COST = re.compile(
    r"(?P<usd>[0-9.]+) USD, (?P<seconds>\d+) billed s, (?P<jobs>\d+) job\(s\)"
    r"(?:, (?P<per_request>\d+) per request)?"
    r"(?:, (?P<pending>[0-9.]+) USD pending)?"
)


def encode(verdict: Verdict, *, checked: bool) -> str:
    """``"poll-interval (error), download-output (warning)"``, ``""`` when every rule held."""
    seen = sorted({(v.rule_id, v.severity.value) for v in verdict.violations})
    text = ", ".join(f"{rule} ({severity})" for rule, severity in seen)
    return text + ("" if checked else _OFF)


def decode(value: str) -> tuple[list[tuple[str, str]], bool]:
    checked = not value.endswith(_OFF)
    body = value.removesuffix(_OFF)
    broken = []
    for part in filter(None, body.split(", ")):
        rule, _, severity = part.partition(" (")
        broken.append((rule, severity.rstrip(")")))
    return broken, checked


def summary_lines(rows: Iterable[tuple[str, str]]) -> list[str]:
    """``rows``: (test id, encoded outcome) per test that used the gateway."""
    ordered = sorted(rows)
    by_rule: Counter[tuple[str, str]] = Counter()
    lines: list[str] = []
    clean = 0
    for nodeid, value in ordered:
        broken, checked = decode(value)
        by_rule.update(broken)
        if broken:
            lines.append(f"{nodeid}: {value.removesuffix(_OFF)}{'' if checked else _OFF}")
        else:
            clean += 1
    head = f"{len(ordered)} test(s) used the gateway; {clean} kept every rule"
    tail = [f"  {rule} ({sev}): {n} test(s)" for (rule, sev), n in sorted(by_rule.items())]
    return [head, *tail, *lines]


def properties(verdict: Verdict, *, checked: bool) -> list[tuple[str, str]]:
    """What a test's report carries: its broken rules and its cost."""
    return [
        (PROPERTY, encode(verdict, checked=checked)),
        (COST_PROPERTY, encode_cost(verdict.cost)),
    ]


def annotate_report(item: Any, report: Any, call: Any, verdict: Verdict, *, checked: bool) -> None:
    """Give a test's report its contract properties (kept on the item for later reports and
    ``--junitxml``) and, for a contract failure, the short summary line naming the rule."""
    found = properties(verdict, checked=checked)
    report.user_properties.extend(found)
    item.user_properties.extend(found)
    crash = getattr(report.longrepr, "reprcrash", None)
    message = short_message(call.excinfo.value) if call.excinfo else None
    if crash is not None and message is not None:
        crash.message = message  # what the short summary shows, cut to the terminal's width


def short_message(exc: BaseException) -> str | None:
    """The short summary's line for a contract failure: ``poll-interval: ...``, the rule id
    first and no exception name before it, so a line cut to an 80-column terminal after a long
    test id still names the rule; None for any other exception."""
    if not isinstance(exc, ContractViolation):
        return None
    return str(exc).partition("\n")[0]


def encode_cost(cost: Cost) -> str:
    """``"0.48 USD, 3 billed s, 1 job(s)"``: one test's bill, readable in ``--junitxml`` too;
    ``", 1 per request"`` follows when jobs of models priced per request were charged, and
    ``", 0.32 USD pending"`` when jobs still running would be charged that on completing."""
    text = f"{money_str(cost.usd)} USD, {cost.billed_seconds} billed s, {len(cost.jobs)} job(s)"
    if cost.per_request_jobs:
        text += f", {cost.per_request_jobs} per request"
    return text + (f", {money_str(cost.pending_usd)} USD pending" if cost.pending_usd else "")


@dataclass(frozen=True, slots=True)
class ItemCost:
    """One test's bill as :func:`encode_cost` wrote it."""

    usd: Decimal = Decimal(0)
    billed_seconds: int = 0
    jobs: int = 0
    per_request: int = 0  # jobs charged at a price per request
    pending: Decimal = Decimal(0)


def decode_cost(value: str) -> ItemCost:
    """A test's bill from :func:`encode_cost`'s text (nothing, for text of another shape)."""
    match = _COST.fullmatch(value)
    if match is None:
        return ItemCost()
    return ItemCost(
        usd=Decimal(match["usd"]),
        billed_seconds=int(match["seconds"]),
        jobs=int(match["jobs"]),
        per_request=int(match["per_request"] or 0),
        pending=Decimal(match["pending"]) if match["pending"] else Decimal(0),
    )


def total_cost(rows: Iterable[tuple[str, str]]) -> Decimal:
    """Charged plus pending over all tests: what a budget is held against."""
    total = Decimal(0)
    for _, value in rows:
        cost = decode_cost(value)
        total += cost.usd + cost.pending
    return total


def budget_message(total: Decimal, budget: Decimal) -> str:
    over = "over" if total > budget else "within"
    return f"the run cost {money_str(total)} USD, {over} the budget of {money_str(budget)} USD"


def cost_lines(rows: Iterable[tuple[str, str]], budget: Decimal | None = None) -> list[str]:
    """The run's bill: the total, then each test that submitted jobs, then the budget."""
    usd, seconds, jobs, per_request, pending = Decimal(0), 0, 0, 0, Decimal(0)
    lines: list[str] = []
    for nodeid, value in sorted(rows):
        test = decode_cost(value)
        usd, seconds, jobs = usd + test.usd, seconds + test.billed_seconds, jobs + test.jobs
        per_request += test.per_request
        pending += test.pending
        if test.jobs:
            lines.append(f"  {nodeid}: {value}")
    head = f"cost: {money_str(usd)} USD in total, {seconds} billed second(s) over {jobs} job(s)"
    if per_request:
        head += f", {per_request} of them charged per request"
    if pending:
        head += f", and {money_str(pending)} USD pending for jobs still running"
    tail = []
    if budget is not None:
        mark = "BUDGET EXCEEDED: " if usd + pending > budget else "budget: "
        tail.append(mark + budget_message(usd + pending, budget))
    return [head, *lines, *tail]
