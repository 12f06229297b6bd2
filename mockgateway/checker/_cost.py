"""What a run would have cost on the real gateway: jobs, billed seconds and dollars, per client.

Pure: the billing records come from the journal (a status answer or a webhook attempt that
showed a job ending carries the job's ``billing``) and, for a live run, from the gateway's own
jobs, which also know the jobs the client never saw end. A job is charged when it COMPLETED; an
ERROR never is; a FAILED job only under ``[billing] charge_failed``. A model priced per output
second charges its billed seconds at its price; one priced per request charges its price once,
with no billed seconds. The gateway applies those rules; this module adds up what it charged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .._billing import money_str
from .._journal import JournalEntry
from ._view import request_id_of, response_json

TERMINAL = ("COMPLETED", "FAILED", "ERROR")
PER_REQUEST = "request"  # a billing record's ``per`` for a model priced per request


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCost:
    """One submitted job: its last known status and what it was charged (None: never seen end)."""

    request_id: str
    client: str | None
    status: str | None
    billed_seconds: int = 0
    usd: Decimal = Decimal(0)
    pending_usd: Decimal | None = None  # unfinished: its charge if it completes, once priced
    model_id: str | None = None
    per: str | None = None  # what its model's price is for: "request" or "output_second"

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def per_request(self) -> bool:
        return self.per == PER_REQUEST

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "client": self.client,
            "model_id": self.model_id,
            "status": self.status,
            "per": self.per,
            "billed_seconds": self.billed_seconds,
            "usd": money_str(self.usd),
            "pending_usd": money_str(self.pending_usd) if self.pending_usd is not None else None,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Cost:
    """The bill of one run; ``usd`` is exact (a Decimal), shown with at least two places."""

    jobs: tuple[JobCost, ...] = ()

    @property
    def usd(self) -> Decimal:
        return sum((j.usd for j in self.jobs), Decimal(0))

    @property
    def billed_seconds(self) -> int:
        return sum(j.billed_seconds for j in self.jobs)

    @property
    def charged_jobs(self) -> int:
        return sum(1 for j in self.jobs if j.usd)

    @property
    def per_request_jobs(self) -> int:
        """Jobs charged once at their model's price per request (they bill no seconds)."""
        return sum(1 for j in self.jobs if j.usd and j.per_request)

    @property
    def per_request_usd(self) -> Decimal:
        return sum((j.usd for j in self.jobs if j.per_request), Decimal(0))

    @property
    def per_second_usd(self) -> Decimal:
        return self.usd - self.per_request_usd

    @property
    def unfinished(self) -> int:
        """Jobs not seen ending: not in :attr:`usd`, which is what was charged."""
        return sum(1 for j in self.jobs if not j.finished)

    @property
    def pending_usd(self) -> Decimal:
        """What the unfinished jobs would still be charged if they completed (the real gateway
        finishes a job whether or not its client waits), for those already priced."""
        return sum((j.pending_usd or Decimal(0) for j in self.jobs if not j.finished), Decimal(0))

    @property
    def unpriced(self) -> int:
        """Unfinished jobs whose duration, and so their price, was not known yet."""
        return sum(1 for j in self.jobs if not j.finished and j.pending_usd is None)

    @property
    def at_most(self) -> Decimal:
        """Charged plus pending: what a budget is held against."""
        return self.usd + self.pending_usd

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for j in self.jobs:
            name = j.status if j.finished and j.status else "unfinished"
            counts[name] = counts.get(name, 0) + 1
        return dict(sorted(counts.items()))

    def describe(self) -> str:
        """``1.60 USD: 10 billed second(s), 1 of 2 job(s) charged (COMPLETED 1, ERROR 1)``; jobs
        of models priced per request are counted apart, and when both kinds were charged each
        part says its amount: ``0.83 USD: 3 billed second(s) for 0.48 USD, 1 per-request charge(s)
        for 0.35 USD, 2 of 2 job(s) charged (COMPLETED 2)``."""
        statuses = ", ".join(f"{name} {n}" for name, n in self.by_status().items())
        per_request = any(j.per_request for j in self.jobs)
        both = per_request and self.billed_seconds > 0
        parts = []
        if self.billed_seconds or not per_request:
            amount = f" for {money_str(self.per_second_usd)} USD" if both else ""
            parts.append(f"{self.billed_seconds} billed second(s){amount}")
        if per_request:
            amount = f" for {money_str(self.per_request_usd)} USD" if both else ""
            parts.append(f"{self.per_request_jobs} per-request charge(s){amount}")
        text = (
            f"{money_str(self.usd)} USD: {', '.join(parts)}, "
            f"{self.charged_jobs} of {len(self.jobs)} job(s) charged"
        )
        return text + (f" ({statuses})" if statuses else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd": money_str(self.usd),
            "billed_seconds": self.billed_seconds,
            "jobs": len(self.jobs),
            "charged_jobs": self.charged_jobs,
            "per_request_jobs": self.per_request_jobs,
            "per_request_usd": money_str(self.per_request_usd),
            "unfinished_jobs": self.unfinished,
            "pending_usd": money_str(self.pending_usd),
            "unpriced_jobs": self.unpriced,
            "by_status": self.by_status(),
            "per_job": [j.to_dict() for j in self.jobs],
        }


def _money(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)
    return amount if amount.is_finite() and amount >= 0 else Decimal(0)


def _job_cost(
    request_id: str,
    client: str | None,
    record: Mapping[str, Any] | None,
    models: Mapping[str, str] | None = None,
) -> JobCost:
    """``models``: the ``per`` of each model id, for a job whose record does not say."""
    model_id = _model_of(request_id)
    known_per = (models or {}).get(model_id) if model_id is not None else None
    if record is None:
        return JobCost(
            request_id=request_id, client=client, status=None, model_id=model_id, per=known_per
        )
    status = record.get("status")
    seconds = record.get("billed_seconds")
    pending = record.get("pending")
    per = record.get("per")
    return JobCost(
        request_id=request_id,
        client=client,
        model_id=model_id,
        per=per if isinstance(per, str) else known_per,
        status=status if isinstance(status, str) else None,
        billed_seconds=seconds if isinstance(seconds, int) and seconds >= 0 else 0,
        usd=_money(record.get("charged", "0")),
        pending_usd=_money(pending) if pending is not None else None,
    )


def _model_of(request_id: str) -> str | None:
    """The model a request id names: the gateway's ids are ``{model_id}_{uuid}``."""
    model_id, sep, _ = request_id.rpartition("_")
    return model_id if sep and model_id else None


def cost_of(
    entries: Iterable[JournalEntry],
    live: Mapping[str, Mapping[str, Any]] | None = None,
    pricing: Mapping[str, str] | None = None,
) -> Cost:
    """The bill for the jobs the journal shows accepted (a generate 202, or a billed status).

    ``live``: the gateway's billing record per request id, which wins over the journal's.
    ``pricing``: what each model id's price is for (``"request"`` or ``"output_second"``), for
    the jobs no record prices yet.
    """
    clients: dict[str, str | None] = {}
    records: dict[str, Mapping[str, Any]] = {}
    for e in sorted(entries, key=lambda e: (e.started_at, e.seq)):
        rid = request_id_of(e)
        if rid is None or (e.kind != "request" and e.route != "webhook"):
            continue
        accepted = e.route == "generate" and e.status == 202 and response_json(e) is not None
        billing = e.billing
        if accepted or isinstance(billing, Mapping):
            clients.setdefault(rid, e.key)
        if isinstance(billing, Mapping):
            records[rid] = billing
    if live:
        records.update({rid: live[rid] for rid in clients if rid in live})
    return Cost(
        jobs=tuple(
            _job_cost(rid, client, records.get(rid), pricing) for rid, client in clients.items()
        )
    )
