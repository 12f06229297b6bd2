"""The checker's vocabulary: rules, their findings, and the verdict over a whole journal.

A :class:`Rule` is data plus one pure function from a :class:`~._view.JournalView` to findings;
the engine turns findings into :class:`Violation` values carrying the journal entries that prove
them, so a report can show the exact requests and their gateway times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from .._journal import JournalEntry

if TYPE_CHECKING:
    from ._settings import CheckerSettings
    from ._view import JournalView


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
    """The outcome of judging one journal (and possibly the client run that produced it)."""

    results: tuple[RuleResult, ...]
    entry_count: int
    clients: tuple[str | None, ...]
    origin: float | None
    client_run: ClientRun | None = None

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
    def passed(self) -> bool:
        client_ok = self.client_run is None or not self.client_run.failed
        return self.contract_passed and client_ok

    def result(self, rule_id: str) -> RuleResult:
        for r in self.results:
            if r.rule.id == rule_id:
                return r
        raise KeyError(rule_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "contract_passed": self.contract_passed,
            "summary": {
                "entries": self.entry_count,
                "clients": list(self.clients),
                "errors": self.count(Severity.ERROR),
                "warnings": self.count(Severity.WARNING),
                "infos": self.count(Severity.INFO),
                "broken_rules": list(self.broken_rules),
            },
            "client_run": self.client_run.to_dict() if self.client_run else None,
            "rules": [r.to_dict() for r in self.results],
        }
