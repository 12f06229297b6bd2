"""The spend guard: whether the proxy may forward a generate, and what the run has cost. Pure.

Generate costs money on the real gateway, so it is refused unless the operator allowed billable
requests, and then only when the run's spend, plus the generates on their way, plus the most this
one can cost, stays within the budget: the spend never passes it. The spend counts every job
the upstream accepted: at its model's price (per request, or times its billed seconds: the
output's length rounded up) once that is known, and until then at the most it can cost (the
longest output its model allows at its resolution), so a job whose length the proxy has not learnt
yet never leaves room it does not have.
A generate on its way upstream counts the same way until its answer is in, so requests sent at
once cannot all pass on the same spend.
ERROR is never charged; FAILED only when the configuration charges it ([billing]).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from .._billing import money_str
from ..models import ModelSpec, Per

DEFAULT_RESOLUTION = "1080p"


@dataclass(slots=True, kw_only=True)
class JobSpend:
    request_id: str
    model_id: str
    resolution: str
    model: ModelSpec | None
    output_seconds: float | None = None
    status: str | None = None

    @property
    def per_request(self) -> bool:
        return self.model is not None and self.model.per is Per.REQUEST

    @property
    def billed_seconds(self) -> int | None:
        if self.per_request:
            return 0
        if self.output_seconds is None or self.model is None:
            return None
        return self.model.billed_seconds(self.output_seconds)

    def charge(self, charge_failed: bool) -> Decimal:
        """What the job costs now: exact once its length is known, at most until then."""
        if self.status == "ERROR" or (self.status == "FAILED" and not charge_failed):
            return Decimal(0)
        if self.model is None:
            return Decimal(0)
        if self.per_request or self.output_seconds is not None:
            return self.model.cost(self.output_seconds)
        return self.model.max_cost(self.resolution)

    @property
    def priced(self) -> bool:
        return self.billed_seconds is not None or self.status in ("ERROR", "FAILED")


@dataclass(slots=True, kw_only=True)
class SpendGuard:
    allow_billable: bool = False
    budget: Decimal | None = None
    models: Mapping[str, ModelSpec] = field(default_factory=dict)
    charge_failed: bool = False
    jobs: dict[str, JobSpend] = field(default_factory=dict)
    refused: int = 0
    in_flight: Decimal = Decimal(0)  # generates sent and not yet answered, at their most

    def refusal(self, model_id: str, resolution: str | None = None) -> str | None:
        """Why a generate for ``model_id`` at ``resolution`` may not go upstream now, or None
        when it may: never when the most it could cost would take the spend past the budget."""
        model = self.models.get(model_id)
        if not self.allow_billable:
            what = "money"
            if model is not None:
                unit = "request" if model.per is Per.REQUEST else "second of output"
                what = f"{money_str(model.price)} USD per {unit}"
            return (
                f"generate costs {what} on the real gateway; the proxy forwards it only when "
                "started with --allow-billable (and --budget USD to cap the run)"
            )
        if model is None:
            return (
                f"no price is known for model {model_id!r}, so its spend cannot be guarded; "
                "declare it in [[models]] of --config"
            )
        if self.budget is None:
            return None
        most = self.most(model_id, resolution)
        committed = self.spend + self.in_flight
        if committed + most > self.budget:
            left = max(Decimal(0), self.budget - committed)
            return (
                f"this job could cost up to {money_str(most)} USD (the longest output at "
                f"{resolution or DEFAULT_RESOLUTION}), more than the {money_str(left)} USD left "
                f"of --budget {money_str(self.budget)} USD; the run's spend is "
                f"{money_str(self.spend)} USD ({self.pending_note()})"
                + (f", {money_str(self.in_flight)} USD on its way" if self.in_flight else "")
            )
        return None

    def most(self, model_id: str, resolution: str | None) -> Decimal:
        """The most a generate for ``model_id`` at ``resolution`` can cost."""
        probe = JobSpend(
            request_id="", model_id=model_id, resolution=resolution or DEFAULT_RESOLUTION,
            model=self.models.get(model_id),
        )  # fmt: skip
        return probe.charge(self.charge_failed)

    def check(self, model_id: str, resolution: str | None = None) -> str | None:
        reason = self.refusal(model_id, resolution)
        if reason is not None:
            self.refused += 1
        return reason

    def reserve(self, model_id: str, resolution: str | None) -> Decimal:
        """Count a generate on its way upstream at its most; :meth:`release` it on its answer."""
        amount = self.most(model_id, resolution)
        self.in_flight += amount
        return amount

    def release(self, amount: Decimal) -> None:
        self.in_flight -= amount

    def accepted(self, request_id: str, model_id: str, resolution: str | None) -> None:
        self.jobs[request_id] = JobSpend(
            request_id=request_id,
            model_id=model_id,
            resolution=resolution or DEFAULT_RESOLUTION,
            model=self.models.get(model_id),
        )

    def observed(self, request_id: str, status: str) -> None:
        job = self.jobs.get(request_id)
        if job is not None:
            job.status = status

    def measured(self, request_id: str, output_seconds: float) -> None:
        job = self.jobs.get(request_id)
        if job is not None:
            job.output_seconds = output_seconds

    @property
    def spend(self) -> Decimal:
        return sum((j.charge(self.charge_failed) for j in self.jobs.values()), Decimal(0))

    @property
    def unpriced(self) -> int:
        return sum(1 for j in self.jobs.values() if not j.priced)

    def pending_note(self) -> str:
        n = self.unpriced
        if not n:
            return "every job priced"
        return f"{n} job(s) counted at their most until their output's length is known"

    def summary(self) -> str:
        seconds = sum(
            j.billed_seconds or 0 for j in self.jobs.values() if j.charge(self.charge_failed)
        )
        return (
            f"spend: {money_str(self.spend)} USD for {len(self.jobs)} job(s) the upstream "
            f"accepted, {seconds} billed second(s) measured ({self.pending_note()}); "
            f"{self.refused} generate request(s) refused by the spend guard"
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "usd": money_str(self.spend),
            "jobs": len(self.jobs),
            "unpriced": self.unpriced,
            "refused": self.refused,
            "budget": money_str(self.budget) if self.budget is not None else None,
            "allow_billable": self.allow_billable,
        }

    def billing(self, request_id: str) -> dict[str, object] | None:
        """A job's cost as the journal's ``billing`` record, for the checker's bill."""
        job = self.jobs.get(request_id)
        if job is None:
            return None
        charged = job.charge(self.charge_failed) if job.billed_seconds is not None else Decimal(0)
        terminal = job.status in ("COMPLETED", "FAILED", "ERROR")
        model = job.model
        return {
            "status": job.status,
            "billed_seconds": job.billed_seconds if charged else 0,
            "price_per_second": money_str(model.price)
            if model is not None and not job.per_request
            else None,
            "price": money_str(model.price) if model is not None else None,
            "per": model.per.value if model is not None else None,
            "charged": money_str(charged if terminal else Decimal(0)),
            "pending": None if terminal else money_str(job.charge(self.charge_failed)),
        }
