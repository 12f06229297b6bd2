"""The bill as a pure function of the journal (and the gateway's own records when it is live)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mockgateway._billing import money_str
from mockgateway._jobs import billing_record
from mockgateway.checker import check, cost_of
from tests.checker_builders import JournalBuilder, rid
from tests.support import manual_config, memory_of, served


def billing(status: str, seconds: int, charged: str) -> dict[str, object]:
    return {"status": status, "billed_seconds": seconds, "price_per_second": "0.16",
            "charged": charged}  # fmt: skip


def test_each_job_is_counted_once_at_what_its_terminal_answer_says() -> None:
    j = JournalBuilder()
    j.generate(0, n=1)
    j.generate(1, n=2, key="****0002")
    j.generate(2, n=3)
    j.poll(5, "COMPLETED", n=1)
    j.entries[-1] = replace(j.entries[-1], billing=billing("COMPLETED", 10, "1.60"))
    j.poll(6, "COMPLETED", n=1)  # a second look at the same end counts nothing more
    j.entries[-1] = replace(j.entries[-1], billing=billing("COMPLETED", 10, "1.60"))
    j.poll(7, "ERROR", n=2, key="****0002")
    j.entries[-1] = replace(j.entries[-1], billing=billing("ERROR", 0, "0.00"))
    cost = cost_of(j.entries)
    assert cost.usd == Decimal("1.60")
    assert (cost.billed_seconds, len(cost.jobs), cost.charged_jobs) == (10, 3, 1)
    assert cost.by_status() == {"COMPLETED": 1, "ERROR": 1, "unfinished": 1}
    assert cost.unfinished == 1  # job 3 was never seen ending
    assert [(c.request_id, c.client) for c in cost.jobs] == [
        (rid(1), "****0001"), (rid(2), "****0002"), (rid(3), "****0001"),
    ]  # fmt: skip
    assert cost.describe() == (
        "1.60 USD: 10 billed second(s), 1 of 3 job(s) charged (COMPLETED 1, ERROR 1, unfinished 1)"
    )
    # a live run knows the job the client never polled to its end
    live = cost_of(j.entries, {rid(3): billing("COMPLETED", 3, "0.48")})
    assert (live.usd, live.billed_seconds, live.unfinished) == (Decimal("2.08"), 13, 0)


def test_a_rejected_submission_is_no_job_and_odd_records_cost_nothing() -> None:
    j = JournalBuilder()
    j.generate(0, status=402, response={"error": "Insufficient Balance", "message": "x"})
    assert cost_of(j.entries).jobs == ()
    j.generate(1, n=2)
    j.poll(3, "COMPLETED", n=2)
    j.entries[-1] = replace(j.entries[-1], billing={"status": "COMPLETED", "charged": "lots",
                                                    "billed_seconds": -4})  # fmt: skip
    cost = cost_of(j.entries)
    assert (cost.usd, cost.billed_seconds, len(cost.jobs)) == (Decimal(0), 0, 1)


def test_the_verdict_fails_over_budget_and_without_traffic_only_when_asked() -> None:
    j = JournalBuilder()
    j.careful_flow()
    last = max(i for i, e in enumerate(j.entries) if e.route == "status")
    j.entries[last] = replace(j.entries[last], billing=billing("COMPLETED", 3, "0.48"))
    assert check(j.entries).passed
    over = check(j.entries, budget=Decimal("0.47"))
    assert not over.passed
    assert over.reasons() == ["over budget: 0.48 USD > 0.47 USD"]
    assert check(j.entries, budget=Decimal("0.48")).passed  # at the budget is within it
    assert check([]).passed  # a library caller judging nothing asked for no traffic
    empty = check([], require_traffic=True)
    assert not empty.passed
    assert empty.reasons() == ["no-traffic: the client made no request to the gateway"]
    assert check(j.entries, require_traffic=True).passed


def test_a_job_still_running_counts_against_the_budget_at_its_price() -> None:
    """The real gateway finishes a job whether or not its client waits: an abandoned job's
    price is pending, and a budget is held against charged plus pending."""
    j = JournalBuilder()
    j.generate(0, n=1)
    j.generate(1, n=2)
    running = {"status": "PROCESSING", "billed_seconds": 0, "price_per_second": "0.16",
               "charged": "0.00", "pending": "0.48"}  # fmt: skip
    queued = {"status": "QUEUED", "billed_seconds": 0, "price_per_second": None,
              "charged": "0.00", "pending": None}  # fmt: skip
    verdict = check(j.entries, billing={rid(1): running, rid(2): queued}, budget=Decimal("0.10"))
    cost = verdict.cost
    assert (cost.usd, cost.pending_usd, cost.at_most) == (0, Decimal("0.48"), Decimal("0.48"))
    assert (cost.unfinished, cost.unpriced) == (2, 1)
    assert verdict.over_budget
    assert verdict.budget_message() == (
        "the run cost 0.00 USD and 0.48 USD more for unfinished jobs, over the budget of 0.10 USD"
    )
    assert "over budget: 0.48 USD > 0.10 USD" in verdict.reasons()
    assert not check(j.entries, billing={rid(1): running}, budget=Decimal("0.50")).over_budget


async def test_the_gateway_prices_a_running_job_as_pending_and_a_budget_sees_it() -> None:
    config = manual_config(lifecycle={"queue_seconds": 1.0, "processing_seconds": 600.0})
    async with served(config) as (gw, client):
        accepted = await client.generate()
        assert accepted.status == 202
        await gw.advance(2)  # processing: the audio is probed, so the job has its price
        await gw.settle()
        job = memory_of(gw.gateway).jobs[accepted.body["request_id"]]
        assert job.cost is not None
        record = billing_record(job)
        assert (record["status"], record["charged"]) == ("PROCESSING", "0.00")
        assert record["pending"] == money_str(job.cost)
        entries = list(memory_of(gw.gateway).journal)
        verdict = check(entries, billing={job.request_id: record}, budget=job.cost / 2)
    assert verdict.cost.pending_usd == job.cost
    assert verdict.over_budget  # abandoned, it would still have been charged in full
