"""The job lifecycle: statuses, the legal transitions, and the status body.

Pure: no I/O, no clock of its own; callers pass the time. The flow is the doc's::

    QUEUED -> PROCESSING -> COMPLETED
                         -> FAILED
                         -> ERROR

A job may also end FAILED or ERROR straight from QUEUED (an injected fault or an admin command).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from ._billing import billed_seconds, money_str
from ._jsonfmt import quoted, template_json
from ._timefmt import iso_ms
from .faults import EndJob, JobPlan


class Status(StrEnum):
    """A job's status. Hot paths read ``_value_``, the plain attribute behind the ``value``
    property (which costs a descriptor call), and ``terminal``, set on each member."""

    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    ERROR = "ERROR"

    def __init__(self, value: str) -> None:
        # an attribute of each member, not a property: every step and poll reads it
        self.terminal = value in ("COMPLETED", "FAILED", "ERROR")


# The members as names of their own, for the code every job runs through: Python 3.11 reads an
# Enum class's attribute through the hook of EnumType.__getattr__, several hundred instructions
# where a module name costs a dict lookup (a job's phase changes read some twenty).
QUEUED, PROCESSING, COMPLETED = Status.QUEUED, Status.PROCESSING, Status.COMPLETED
FAILED, ERROR = Status.FAILED, Status.ERROR


_NEXT: dict[Status, frozenset[Status]] = {
    Status.QUEUED: frozenset({Status.PROCESSING, Status.FAILED, Status.ERROR}),
    Status.PROCESSING: frozenset({Status.COMPLETED, Status.FAILED, Status.ERROR}),
    Status.COMPLETED: frozenset(),
    Status.FAILED: frozenset(),
    Status.ERROR: frozenset(),
}


# the ends that carry an error and no output
_FAILING = frozenset({Status.FAILED, Status.ERROR})


class IllegalTransition(ValueError):
    pass


@dataclass(slots=True, kw_only=True)
class Job:
    """One generate request as the gateway tracks it."""

    request_id: str
    model_id: str
    key: str
    inputs: tuple[tuple[str, str], ...]  # (field, URL) of each media input, in declared order
    resolution: str | None
    created_at: float
    updated_at: float
    status: Status = QUEUED
    completed_at: float | None = None
    error: str | None = None
    media_urls: tuple[str, ...] = ()
    media_type: str = "video/mp4"
    webhook_url: str | None = None
    aspect_ratio: str | None = None
    seconds: float | None = None  # the output's planned length, when the request chose it
    duration_seconds: float | None = None  # the output's length, once known
    cost: Decimal | None = None
    per: str = "output_second"  # what its model's price is for: "request" or "output_second"
    charged: Decimal | None = None  # what the wallet captured when the job ended
    polls: int = 0
    extra_fields: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what processing noted, e.g. a bundled sample standing in
    # (status, time) of each status it entered, oldest first; statuses as their plain text, so
    # the collector stops walking the pairs after its first look at them
    history: tuple[tuple[str, float], ...] = ()
    # its plan and its progress on it: what a restart or another replica needs to carry on
    plan: JobPlan | None = None  # dropped once the job has ended
    phase_polls: int = 0  # polls since the job entered its current status
    outcome: Status | None = None  # what processing found (None: still working)
    outcome_error: str | None = None
    deadline_passed: bool = False  # its processing time is over
    extended: bool = False  # its deadline has taken the output's length into account
    held_webhooks: tuple[dict[str, Any], ...] = ()  # held to send reordered
    seq: int = 0  # creation order in its store
    rendered: bytes | None = field(default=None, repr=False)  # its status body's JSON bytes
    billed: dict[str, Any] | None = field(default=None, repr=False)  # an ended job's bill

    def move(self, target: Status, now: float, *, error: str | None = None) -> None:
        """Apply one transition; raise :class:`IllegalTransition` for anything the flow forbids."""
        if target not in _NEXT[self.status]:
            raise IllegalTransition(f"{self.request_id}: {self.status.value} -> {target.value}")
        self.status = target
        self.updated_at = now
        self.rendered = self.billed = None
        self.phase_polls = 0
        self.history += ((target._value_, now),)
        if target.terminal:
            self.completed_at = now
        if target in _FAILING:
            self.error = error or "The request could not be processed."
            self.media_urls = ()

    def to_dict(self) -> dict[str, Any]:
        """Everything stored about the job, as JSON-ready data (money as text)."""
        plan = self.plan
        return {
            "request_id": self.request_id,
            "model_id": self.model_id,
            "key": self.key,
            "inputs": [list(pair) for pair in self.inputs],
            "resolution": self.resolution,
            "aspect_ratio": self.aspect_ratio,
            "seconds": self.seconds,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "status": self.status.value,
            "completed_at": self.completed_at,
            "error": self.error,
            "media_urls": list(self.media_urls),
            "media_type": self.media_type,
            "webhook_url": self.webhook_url,
            "duration_seconds": self.duration_seconds,
            "cost": None if self.cost is None else str(self.cost),
            "per": self.per,
            "charged": None if self.charged is None else str(self.charged),
            "polls": self.polls,
            "extra_fields": list(self.extra_fields),
            "notes": list(self.notes),
            "history": [[s, t] for s, t in self.history],
            "plan": None if plan is None else _plan_dict(plan),
            "phase_polls": self.phase_polls,
            "outcome": None if self.outcome is None else self.outcome.value,
            "outcome_error": self.outcome_error,
            "deadline_passed": self.deadline_passed,
            "extended": self.extended,
            "held_webhooks": list(self.held_webhooks),
            "seq": self.seq,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        plan = data.get("plan")
        outcome = data.get("outcome")
        return cls(
            request_id=data["request_id"],
            model_id=data["model_id"],
            key=data["key"],
            inputs=_inputs_of(data),
            resolution=data["resolution"],
            aspect_ratio=data.get("aspect_ratio"),
            seconds=data.get("seconds"),
            created_at=data["created_at"],
            updated_at=data["updated_at"],
            status=Status(data["status"]),
            completed_at=data["completed_at"],
            error=data["error"],
            media_urls=tuple(data["media_urls"]),
            media_type=data["media_type"],
            webhook_url=data["webhook_url"],
            duration_seconds=data["duration_seconds"],
            cost=None if data["cost"] is None else Decimal(data["cost"]),
            per=data.get("per", "output_second"),
            charged=None if data["charged"] is None else Decimal(data["charged"]),
            polls=data["polls"],
            extra_fields=tuple(data["extra_fields"]),
            notes=tuple(data["notes"]),
            history=tuple((Status(s)._value_, t) for s, t in data["history"]),
            plan=None if plan is None else _plan_of(plan),
            phase_polls=data["phase_polls"],
            outcome=None if outcome is None else Status(outcome),
            outcome_error=data["outcome_error"],
            deadline_passed=data["deadline_passed"],
            extended=data.get("extended", False),
            held_webhooks=tuple(data["held_webhooks"]),
            seq=data["seq"],
        )


def _inputs_of(data: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A stored job's inputs; a job stored before models were data kept its two URLs apart."""
    if "inputs" in data:
        return tuple((field, url) for field, url in data["inputs"])
    return (("image_url", data["image_url"]), ("audio_url", data["audio_url"]))


def _plan_dict(plan: JobPlan) -> dict[str, Any]:
    end = plan.end
    return {
        "queue_seconds": plan.queue_seconds,
        "processing_seconds": plan.processing_seconds,
        "processing_per_output_second": plan.processing_per_output_second,
        "end": None
        if end is None
        else {"status": end.status, "at": end.at, "message": end.message},
        "scenario": plan.scenario,
        "fired": list(plan.fired),
    }


def _plan_of(data: dict[str, Any]) -> JobPlan:
    end = data["end"]
    return JobPlan(
        queue_seconds=data["queue_seconds"],
        processing_seconds=data["processing_seconds"],
        processing_per_output_second=data.get("processing_per_output_second", 0.0),
        end=None
        if end is None
        else EndJob(status=end["status"], at=end["at"], message=end["message"]),
        scenario=data["scenario"],
        fired=tuple(data["fired"]),
    )


def rendered_status(job: Job) -> bytes:
    """The status body's JSON bytes, computed once per state (polls repeat it unchanged). Only
    the bytes are kept: a job then holds one untracked object for it, not a tree of dicts and
    lists the collector walks for as long as the job is kept."""
    rendered = job.rendered
    if rendered is None:
        rendered = job.rendered = template_json(_status_text(job), lambda: status_body(job))
    return rendered


def _status_text(job: Job) -> str:
    """:func:`status_body` as ``dumps`` writes it, from a template (a status is written for every
    job; the general encoder walks a dict built for it)."""
    status = job.status
    output = "null"
    if status is COMPLETED:
        urls = ", ".join([quoted(url) for url in job.media_urls])
        output = f'{{"media_url": [{urls}], "media_type": {quoted(job.media_type)}}}'
    error = job.error if status in _FAILING else None
    updated = iso_ms(job.updated_at)
    created = updated if job.created_at == job.updated_at else iso_ms(job.created_at)
    completed = job.completed_at
    if completed is None:
        done = "null"
    else:
        done = f'"{updated if completed == job.updated_at else iso_ms(completed)}"'
    return (
        f'{{"request_id": {quoted(job.request_id)}, "status": "{status._value_}",'
        f' "model_id": {quoted(job.model_id)},'
        f' "error": {"null" if error is None else quoted(error)}, "output": {output},'
        f' "created_at": "{created}", "updated_at": "{updated}", "completed_at": {done}}}'
    )


def status_body(job: Job) -> dict[str, Any]:
    """The status body exactly as the doc shows it, in the doc's key order."""
    output = None
    updated = iso_ms(job.updated_at)  # an ended job's completed_at, a new one's created_at
    if job.status is COMPLETED:
        output = {"media_url": list(job.media_urls), "media_type": job.media_type}
    return {
        "request_id": job.request_id,
        "status": job.status._value_,
        "model_id": job.model_id,
        "error": job.error if job.status in _FAILING else None,
        "output": output,
        "created_at": updated if job.created_at == job.updated_at else iso_ms(job.created_at),
        "updated_at": updated,
        "completed_at": (
            None
            if job.completed_at is None
            else updated
            if job.completed_at == job.updated_at
            else iso_ms(job.completed_at)
        ),
    }


def final_billing(job: Job) -> dict[str, Any]:
    """An ended job's :func:`billing_record`, made once: its money never moves again, and every
    poll of it is journaled with its bill (shared, like the status body, never copied)."""
    if job.billed is None:
        job.billed = billing_record(job)
    return job.billed


def billing_record(job: Job) -> dict[str, Any]:
    """What a job cost its wallet, as plain data for the journal and the checker.

    ``billed_seconds`` counts only charged seconds: an ERROR (and a FAILED job, unless
    ``[billing] charge_failed``) is not charged, and a model priced per request bills none.
    ``price_per_second`` is the model's price the job was costed at, None when its duration was
    never known or its model is priced per request; ``price`` is the model's price for what
    ``per`` says ("request" or "output_second").
    """
    charged = job.charged or Decimal(0)
    per_request = job.per == "request"
    seconds = (
        billed_seconds(job.duration_seconds)
        if job.duration_seconds is not None and not per_request
        else 0
    )
    price = job.cost / seconds if job.cost is not None and seconds else None
    if per_request:
        price = None
    pending = job.cost if job.cost is not None and not job.status.terminal else None
    unit = job.cost if per_request else price
    return {
        "status": job.status.value,
        "billed_seconds": seconds if charged else 0,
        "price_per_second": money_str(price) if price is not None else None,
        "price": money_str(unit) if unit is not None else None,
        "per": job.per,
        "charged": money_str(charged),
        # what a job still running would be charged if it completed (None: not priced yet)
        "pending": money_str(pending) if pending is not None else None,
    }
