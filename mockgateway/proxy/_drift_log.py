"""The run's drifts, each kept once with the evidence of its first sighting. Pure.

A drift the operator listed as known (a ``[[known]]`` entry of the file given to
``--known-drift``, matched on its id with shell-style wildcards) is reported as info, whatever
its kind. The log is bounded: past :data:`MAX_DRIFTS` distinct drifts, new ones are only counted.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from .._bodyparse import toml_config
from .._errors import ConfigError
from .._reader import Reader
from ._drift import Drift

MAX_DRIFTS = 500


class Level(StrEnum):
    ERROR = "error"  # a documented behaviour drifted
    WARNING = "warning"  # an inferred or mock behaviour did
    INFO = "info"  # a difference the operator listed as known


@dataclass(frozen=True, slots=True, kw_only=True)
class Known:
    match: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Evidence:
    """Where a drift was first seen: the exchange (keys already redacted) and its body."""

    at: str  # UTC time, ISO 8601
    method: str
    path: str
    status: int | None
    request_id: str | None = None
    body: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "request_id": self.request_id,
            "body": self.body,
        }


@dataclass(slots=True, kw_only=True)
class Record:
    drift: Drift
    level: Level
    evidence: Evidence
    count: int = 1
    known_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.drift.id,
            "kind": self.drift.kind.value,
            "operation": self.drift.operation,
            "level": self.level.value,
            "documented": self.drift.documented,
            "message": self.drift.message,
            "count": self.count,
            "known_reason": self.known_reason,
            "evidence": self.evidence.to_dict(),
        }

    def line(self) -> str:
        where = f"{self.evidence.method} {self.evidence.path} -> {self.evidence.status}"
        known = f" (known: {self.known_reason})" if self.known_reason else ""
        return f"drift [{self.level.value}] {self.drift.id}: {self.drift.message}; {where}{known}"


@dataclass(slots=True)
class DriftLog:
    known: tuple[Known, ...] = ()
    records: dict[str, Record] = field(default_factory=dict)
    overflow: int = 0

    def level_of(self, drift: Drift) -> tuple[Level, str | None]:
        for k in self.known:
            if fnmatch.fnmatchcase(drift.id, k.match):
                return Level.INFO, k.reason
        return (Level.ERROR if drift.documented else Level.WARNING), None

    def observe(self, drifts: list[Drift], evidence: Evidence) -> list[Record]:
        """Count each drift; the ones seen for the first time come back (to be reported)."""
        new: list[Record] = []
        for drift in drifts:
            record = self.records.get(drift.id)
            if record is not None:
                record.count += 1
                continue
            if len(self.records) >= MAX_DRIFTS:
                self.overflow += 1
                continue
            level, reason = self.level_of(drift)
            record = Record(drift=drift, level=level, evidence=evidence, known_reason=reason)
            self.records[drift.id] = record
            new.append(record)
        return new

    @property
    def failed(self) -> bool:
        """Whether a documented behaviour drifted (and was not listed as known)."""
        return any(r.level is Level.ERROR for r in self.records.values())

    def to_dict(self) -> dict[str, Any]:
        records = list(self.records.values())
        return {
            "drifts": [r.to_dict() for r in records],
            "counts": {lv.value: sum(1 for r in records if r.level is lv) for lv in Level},
            "failed": self.failed,
            "overflow": self.overflow,
        }


def load_known(path: str | Path) -> tuple[Known, ...]:
    """The ``[[known]]`` entries of a TOML file: ``match`` (a drift id, wildcards allowed) and
    ``reason``; a :class:`ConfigError` naming the key otherwise."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=source) from None
    root = Reader(toml_config(raw, source), "", source)
    known = []
    for row in root.tables("known"):
        match = row.get("match", str, "")
        if not match:
            raise row.error("match", "is required: a drift id such as 'extra-field:getStatus:*'")
        known.append(Known(match=match, reason=row.get("reason", str, "") or "listed as known"))
        row.finish()
    root.finish()
    return tuple(known)
