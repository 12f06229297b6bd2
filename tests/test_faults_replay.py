"""A seeded scenario replays identically over HTTP; another seed gives another run."""

from __future__ import annotations

from typing import Any

from mockgateway import ManualClock

from .faults_support import START, scenario_config, seconds_between
from .support import Client, served


def replay_scenario(seed: int) -> dict[str, Any]:
    return {
        "scenario": {"seed": seed},
        "delays": {
            "queue": {"kind": "uniform", "low": 0.5, "high": 2.5},
            "processing": {"kind": "lognormal", "mu": 1.0, "sigma": 0.5, "max": 20},
        },
        "faults": [
            {"route": "generate", "action": "http_error", "status": 503, "probability": 0.25},
            {"action": "fail", "probability": 0.2, "message": "random failure"},
            {"route": "status", "action": "http_error", "status": 500, "probability": 0.1},
        ],
    }


async def run(client: Client, advance: Any) -> list[tuple[Any, ...]]:
    """Submit 30 jobs, let 60 s pass, poll each: the outcomes a client would see."""
    outcomes: list[tuple[Any, ...]] = []
    ids: list[str] = []
    for _ in range(30):
        answer = await client.generate()
        outcomes.append(("generate", answer.status))
        if answer.status == 202:
            ids.append(answer.body["request_id"])
    await advance(60)
    for rid in ids:
        answer = await client.status(rid)
        if answer.status != 200:
            outcomes.append(("status", answer.status))
            continue
        body = answer.body
        took = round(seconds_between(body["created_at"], body["completed_at"]), 3)
        outcomes.append(("job", body["status"], body["error"], took))
    return outcomes


async def outcomes_for(seed: int) -> list[tuple[Any, ...]]:
    config = scenario_config(**replay_scenario(seed))
    async with served(config, clock=ManualClock(START)) as (gw, client):
        return await run(client, gw.advance)


async def test_same_seed_replays_identically_and_another_seed_does_not() -> None:
    first = await outcomes_for(1)
    assert first == await outcomes_for(1)
    assert first != await outcomes_for(2)
    kinds = {o[0] for o in first}
    statuses = {o[1] for o in first}
    # the scenario really varied the outcomes: errors, failures and completions all happened
    assert kinds == {"generate", "status", "job"}
    assert {503, "FAILED", "COMPLETED"} <= statuses
    durations = {o[3] for o in first if o[0] == "job"}
    assert len(durations) > 5  # drawn, not fixed


async def test_admin_reset_starts_the_same_run_again() -> None:
    config = scenario_config(**replay_scenario(5))
    async with served(config, clock=ManualClock(START)) as (gw, client):
        first = await run(client, gw.advance)
        await client.admin("POST", "reset")
        assert await run(client, gw.advance) == first
