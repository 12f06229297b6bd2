"""What a run would have cost on the real gateway: jobs, billed seconds and dollars, per client.

Pure: the billing records come from the journal (a status answer or a webhook attempt that
showed a job ending carries the job's ``billing``) and, for a live run, from the gateway's own
jobs, which also know the jobs the client never saw end. A job is charged its billed seconds at
the model's price when it COMPLETED; an ERROR never is; a FAILED job only under
``[billing] charge_failed``. The gateway applies those rules; this module adds up what it charged.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class JobCost:
    """One submitted job: its last known status and what it was charged (None: never seen end)."""

    request_id: str
    client: str | None
    status: str | None
    billed_seconds: int = 0
    usd: Decimal = Decimal(0)
    pending_usd: Decimal | None = None  # unfinished: its charge if it completes, once priced

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "client": self.client,
            "status": self.status,
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
        """``1.60 USD: 10 billed second(s), 1 of 2 job(s) charged (COMPLETED 1, ERROR 1)``."""
        statuses = ", ".join(f"{name} {n}" for name, n in self.by_status().items())
        text = (
            f"{money_str(self.usd)} USD: {self.billed_seconds} billed second(s), "
            f"{self.charged_jobs} of {len(self.jobs)} job(s) charged"
        )
        return text + (f" ({statuses})" if statuses else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd": money_str(self.usd),
            "billed_seconds": self.billed_seconds,
            "jobs": len(self.jobs),
            "charged_jobs": self.charged_jobs,
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


def _job_cost(request_id: str, client: str | None, record: Mapping[str, Any] | None) -> JobCost:
    if record is None:
        return JobCost(request_id=request_id, client=client, status=None)
    status = record.get("status")
    seconds = record.get("billed_seconds")
    pending = record.get("pending")
    return JobCost(
        request_id=request_id,
        client=client,
        status=status if isinstance(status, str) else None,
        billed_seconds=seconds if isinstance(seconds, int) and seconds >= 0 else 0,
        usd=_money(record.get("charged", "0")),
        pending_usd=_money(pending) if pending is not None else None,
    )


def cost_of(
    entries: Iterable[JournalEntry], live: Mapping[str, Mapping[str, Any]] | None = None
) -> Cost:
    """The bill for the jobs the journal shows accepted (a generate 202, or a billed status).

    ``live``: the gateway's billing record per request id, which wins over the journal's.
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
        jobs=tuple(_job_cost(rid, client, records.get(rid)) for rid, client in clients.items())
    )
