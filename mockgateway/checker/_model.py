"""The checker's vocabulary: rules, their findings, and the verdict over a whole journal.

A :class:`Rule` is data plus one pure function from a :class:`~._view.JournalView` to findings;
the engine turns findings into :class:`Violation` values carrying the journal entries that prove
them, so a report can show the exact requests and their gateway times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .._billing import money_str
from .._journal import JournalEntry
from ._cost import Cost

if TYPE_CHECKING:
    from ._settings import CheckerSettings
    from ._view import JournalView


NO_TRAFFIC = "no-traffic"
NO_TRAFFIC_MESSAGE = "the client made no request to the gateway"


class Severity(StrEnum):
    """How much a broken rule matters: only ``error`` makes a check fail."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Source(StrEnum):
    """Where a rule comes from: the API's documentation, or our recommendation."""

    DOC = "doc"
    RECOMMENDATION = "recommendation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """One journal entry cited by a violation, reduced to what a reader needs."""

    seq: int
    kind: str
    route: str
    method: str
    url: str
    status: int | None
    started_at: float
    finished_at: float
    request_id: str | None = None
    error: str | None = None

    @classmethod
    def from_entry(cls, entry: JournalEntry) -> Evidence:
        return cls(
            seq=entry.seq,
            kind=entry.kind,
            route=entry.route,
            method=entry.method,
            url=entry.url or entry.path,
            status=entry.status,
            started_at=entry.started_at,
            finished_at=entry.finished_at,
            request_id=entry.request_id,
            error=entry.error,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "route": self.route,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "request_id": self.request_id,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class Finding:
    """What a rule function yields: a sentence and the entries that prove it."""

    message: str
    entries: tuple[JournalEntry, ...]
    client: str | None = None


RuleCheck = Callable[["JournalView", "CheckerSettings"], Iterable[Finding]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """A contract rule: a stable id, what it says, where it comes from and how to comply."""

    id: str
    severity: Severity
    source: Source
    statement: str
    how_to_fix: str
    check: RuleCheck = field(repr=False, compare=False)

    def to_dict(self, severity: Severity | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "severity": (severity or self.severity).value,
            "source": self.source.value,
            "statement": self.statement,
            "how_to_fix": self.how_to_fix,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    """One breach of one rule by one client."""

    rule_id: str
    severity: Severity
    message: str
    client: str | None
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule_id,
            "severity": self.severity.value,
            "message": self.message,
            "client": self.client,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleResult:
    """A rule as applied in one check, with its effective severity and its violations."""

    rule: Rule
    severity: Severity
    violations: tuple[Violation, ...]
    enabled: bool = True

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_dict(self) -> dict[str, Any]:
        data = self.rule.to_dict(self.severity)
        data["enabled"] = self.enabled
        data["passed"] = self.passed
        data["violations"] = [v.to_dict() for v in self.violations]
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientRun:
    """How the judged command itself ended (absent when a saved journal is judged)."""

    command: tuple[str, ...]
    exit_code: int | None
    timed_out: bool = False
    duration: float = 0.0
    launch_error: str | None = None

    @property
    def failed(self) -> bool:
        return self.timed_out or self.launch_error is not None or self.exit_code != 0

    def reason(self) -> str:
        """A few words for a one-line verdict: ``client exited 3``, ``client timed out``."""
        if self.launch_error is not None:
            return "client could not start"
        if self.timed_out:
            return "client timed out"
        return f"client exited {self.exit_code}"

    def describe(self) -> str:
        cmd = " ".join(self.command)
        if self.launch_error is not None:
            return f"the client could not be started ({cmd}): {self.launch_error}"
        if self.timed_out:
            return f"the client did not finish within {self.duration:.1f} s and was stopped ({cmd})"
        if self.exit_code != 0:
            return f"the client exited with status {self.exit_code} ({cmd})"
        return f"the client exited with status 0 ({cmd})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": list(self.command),
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration": round(self.duration, 3),
            "launch_error": self.launch_error,
            "failed": self.failed,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """The outcome of judging one journal (and possibly the client run that produced it).

    ``traffic`` counts the client's requests to the vendor API (generate, status, media); with
    ``require_traffic`` a run without any fails as "no traffic", since nothing was checked.
    ``cost`` is what the run would have been billed; over ``budget`` (USD) it fails.
    """

    results: tuple[RuleResult, ...]
    entry_count: int
    clients: tuple[str | None, ...]
    origin: float | None
    client_run: ClientRun | None = None
    traffic: int = 0
    require_traffic: bool = False
    cost: Cost = field(default_factory=Cost)
    budget: Decimal | None = None

    @property
    def violations(self) -> tuple[Violation, ...]:
        return tuple(v for r in self.results for v in r.violations)

    def count(self, severity: Severity) -> int:
        return sum(1 for v in self.violations if v.severity is severity)

    @property
    def broken_rules(self) -> tuple[str, ...]:
        return tuple(r.rule.id for r in self.results if r.violations)

    @property
    def contract_passed(self) -> bool:
        return self.count(Severity.ERROR) == 0

    @property
    def no_traffic(self) -> bool:
        return self.require_traffic and self.traffic == 0

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.cost.at_most > self.budget

    @property
    def passed(self) -> bool:
        client_ok = self.client_run is None or not self.client_run.failed
        return self.contract_passed and client_ok and not self.no_traffic and not self.over_budget

    def budget_message(self) -> str:
        assert self.budget is not None
        over = "over" if self.over_budget else "within"
        pending = self.cost.pending_usd
        more = f" and {money_str(pending)} USD more for unfinished jobs" if pending else ""
        return (
            f"the run cost {money_str(self.cost.usd)} USD{more}, {over} the budget of "
            f"{money_str(self.budget)} USD"
        )

    def reasons(self) -> list[str]:
        """Why the verdict failed, in a few words each (empty when it passed)."""
        out: list[str] = []
        broken = sorted({v.rule_id for v in self.violations if v.severity is Severity.ERROR})
        if broken:
            out.append("broken: " + ", ".join(broken))
        if self.no_traffic:
            out.append(f"{NO_TRAFFIC}: {NO_TRAFFIC_MESSAGE}")
        if self.client_run is not None and self.client_run.failed:
            out.append(self.client_run.reason())
        if self.over_budget and self.budget is not None:
            total, budget = money_str(self.cost.at_most), money_str(self.budget)
            out.append(f"over budget: {total} USD > {budget} USD")
        return out

    def result(self, rule_id: str) -> RuleResult:
        for r in self.results:
            if r.rule.id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "contract_passed": self.contract_passed,
            "reasons": self.reasons(),
            "summary": {
                "entries": self.entry_count,
                "traffic": self.traffic,
                "no_traffic": self.no_traffic,
                "clients": list(self.clients),
                "errors": self.count(Severity.ERROR),
                "warnings": self.count(Severity.WARNING),
                "infos": self.count(Severity.INFO),
                "broken_rules": list(self.broken_rules),
            },
            "client_run": self.client_run.to_dict() if self.client_run else None,
            "cost": self.cost.to_dict(),
            "budget": {
                "usd": money_str(self.budget),
                "over": self.over_budget,
                "message": self.budget_message(),
            }
            if self.budget is not None
            else None,
            "rules": [r.to_dict() for r in self.results],
        }
