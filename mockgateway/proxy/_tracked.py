"""What the proxy learns about each job from the answers it relays. Pure.

A job is known from the upstream's 202; every later answer about it (a poll, a callback) adds
the status it showed, the moment the proxy saw it and the upstream's own timestamps, so a
recording carries each job's transition times for ``calibrate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._drift import Drift, normal_status, transition_drift


@dataclass(slots=True, kw_only=True)
class Transition:
    status: str
    seen_at: float  # the proxy's clock (Unix seconds)
    updated_at: str | None  # the upstream's timestamp for the change, as it wrote it

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "seen_at": self.seen_at, "updated_at": self.updated_at}


@dataclass(slots=True, kw_only=True)
class TrackedJob:
    request_id: str
    model_id: str | None
    resolution: str | None
    submitted_at: float
    client_webhook: str | None = None
    created_at: str | None = None
    completed_at: str | None = None
    error: str | None = None
    output_seconds: float | None = None
    media_url: str | None = None  # the upstream's, when it is on the upstream's origin
    transitions: list[Transition] = field(default_factory=list)

    @property
    def status(self) -> str | None:
        return self.transitions[-1].status if self.transitions else None

    def observe(self, body: dict[str, Any], now: float, operation: str) -> Drift | None:
        """Add what a status body says; a move the flow forbids comes back as a drift."""
        status = normal_status(body.get("status"))
        if status is None:
            return None
        drift = transition_drift(self.status, status, operation)
        if isinstance(body.get("created_at"), str):
            self.created_at = body["created_at"]
        if isinstance(body.get("completed_at"), str):
            self.completed_at = body["completed_at"]
        if isinstance(body.get("error"), str):
            self.error = body["error"]
        if status != self.status:
            updated = body.get("updated_at")
            self.transitions.append(
                Transition(
                    status=status,
                    seen_at=now,
                    updated_at=updated if isinstance(updated, str) else None,
                )
            )
        return drift

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "model_id": self.model_id,
            "resolution": self.resolution,
            "submitted_at": self.submitted_at,
            "created_at": self.created_at,
            "completed_at": self.completed_at,
            "status": self.status,
            "error": self.error,
            "output_seconds": self.output_seconds,
            "transitions": [t.to_dict() for t in self.transitions],
        }
