"""The bill as a pure function of the journal (and the gateway's own records when it is live)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from mockgateway._billing import money_str
from mockgateway._jobs import billing_record
from mockgateway.checker import Cost, JobCost, check, cost_of
from mockgateway.checker._summary import cost_lines, decode_cost, encode_cost
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


def per_request(status: str, charged: str, pending: str | None = None) -> dict[str, object]:
    """A billing record as the gateway writes one for a model priced per request."""
    return {"status": status, "billed_seconds": 0, "price_per_second": None, "price": "0.35",
            "per": "request", "charged": charged, "pending": pending}  # fmt: skip


def test_jobs_priced_per_request_are_billed_apart_from_billed_seconds() -> None:
    flat = "acme-image-to-video-v2"
    j = JournalBuilder()
    j.generate(0, n=1)
    for n in (2, 3):
        e = j.generate(n - 1, n=n, path=f"/{flat}/v1/{flat}-request")
        j.entries[-1] = replace(e, request_id=f"{flat}_{n}")
    live = {
        rid(1): billing("COMPLETED", 3, "0.48"),
        f"{flat}_2": per_request("COMPLETED", "0.35"),
        f"{flat}_3": per_request("ERROR", "0.00"),
    }
    cost = cost_of(j.entries, live)
    assert [(c.model_id, c.per, c.billed_seconds, c.usd) for c in cost.jobs] == [
        ("bytedance-omnihuman-v1-5-290", None, 3, Decimal("0.48")),
        (flat, "request", 0, Decimal("0.35")),
        (flat, "request", 0, Decimal(0)),
    ]
    assert (cost.usd, cost.per_request_usd, cost.per_second_usd) == (
        Decimal("0.83"), Decimal("0.35"), Decimal("0.48"),
    )  # fmt: skip
    assert cost.per_request_jobs == 1  # the ERROR was not charged
    assert cost.describe() == (
        "0.83 USD: 3 billed second(s) for 0.48 USD, 1 per-request charge(s) for 0.35 USD,"
        " 2 of 3 job(s) charged (COMPLETED 2, ERROR 1)"
    )
    data = cost.to_dict()
    assert (data["per_request_jobs"], data["per_request_usd"]) == (1, "0.35")
    assert [row["per"] for row in data["per_job"]] == [None, "request", "request"]
    alone = cost_of(j.entries, {f"{flat}_2": per_request("COMPLETED", "0.35")})
    assert alone.describe() == (
        "0.35 USD: 1 per-request charge(s), 1 of 3 job(s) charged (COMPLETED 1, unfinished 2)"
    )


def test_what_a_model_is_priced_for_comes_from_its_declaration_until_a_record_says() -> None:
    j = JournalBuilder()
    j.generate(0, n=1)
    pricing = {"bytedance-omnihuman-v1-5-290": "output_second"}
    (job,) = cost_of(j.entries, None, pricing).jobs
    assert (job.status, job.per) == (None, "output_second")
    (job,) = check(j.entries).cost.jobs  # the engine reads the models it judges by
    assert job.per == "output_second"


def test_a_running_job_priced_per_request_is_pending_at_its_price() -> None:
    j = JournalBuilder()
    j.generate(0, n=1)
    verdict = check(
        j.entries, billing={rid(1): per_request("PROCESSING", "0.00", "0.35")},
        budget=Decimal("0.30"),
    )  # fmt: skip
    assert (verdict.cost.pending_usd, verdict.cost.unpriced) == (Decimal("0.35"), 0)
    assert verdict.over_budget


def test_the_pytest_summary_counts_jobs_charged_per_request() -> None:
    jobs = (
        JobCost(request_id="a_1", client=None, status="COMPLETED", usd=Decimal("0.35"),
                per="request"),
        JobCost(request_id="b_1", client=None, status="COMPLETED", billed_seconds=3,
                usd=Decimal("0.48"), per="output_second"),
    )  # fmt: skip
    text = encode_cost(Cost(jobs=jobs))
    assert text == "0.83 USD, 3 billed s, 2 job(s), 1 per request"
    decoded = decode_cost(text)
    assert (decoded.usd, decoded.billed_seconds, decoded.jobs, decoded.per_request) == (
        Decimal("0.83"), 3, 2, 1,
    )  # fmt: skip
    assert decode_cost("0.48 USD, 3 billed s, 1 job(s)").per_request == 0
    lines = cost_lines([("t.py::a", text), ("t.py::b", "0.48 USD, 3 billed s, 1 job(s)")])
    assert lines[0] == (
        "cost: 1.31 USD in total, 6 billed second(s) over 3 job(s), 1 of them charged per request"
    )
