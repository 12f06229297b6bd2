"""Job timelines under a scenario: injected ends, per-model delays, polls, time scale, commands."""

from __future__ import annotations

from typing import Any

from mockgateway.faults import faults_from_mapping

from .faults_support import scenario_config, seconds_between
from .support import DOC_BODY, memory_of, served

OTHER_MODEL = {"id": "other-model", "operation": "other-op", "price_per_second": "0.10"}


async def test_fail_at_queued_skips_processing() -> None:
    rule = {"action": "fail", "at": "queued", "message": "image could not be decoded"}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(1)
        body = (await client.status(rid)).body
        assert body["status"] == "FAILED"
        assert body["error"] == "image could not be decoded"
        assert [h for h, _ in memory_of(gw.gateway).jobs[rid].history] == ["QUEUED", "FAILED"]
        entry = next(e for e in memory_of(gw.gateway).journal if e.route == "generate")
        assert "fault rule 'faults[0]': the job will end FAILED at QUEUED" in entry.notes


async def test_error_at_processing_after_the_processing_time() -> None:
    rule = {"action": "error", "nth": 2}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        first = (await client.generate()).body["request_id"]
        second = (await client.generate()).body["request_id"]
        await gw.advance(2.9)
        assert (await client.status(second)).body["status"] == "PROCESSING"
        await gw.advance(0.1)
        assert (await client.status(first)).body["status"] == "COMPLETED"
        assert (await client.status(second)).body["status"] == "ERROR"


async def test_delays_per_phase_and_per_model() -> None:
    delays = {"queue": 4, "processing": 6, "models": {"other-model": {"processing": 1}}}
    config = scenario_config(delays=delays, models=[OTHER_MODEL])
    async with served(config) as (gw, client):
        default = (await client.generate()).body["request_id"]
        other = (
            await client.request(
                "POST",
                "/other-model/v1/other-op",
                body=DOC_BODY,
                headers={"Content-Type": "application/json"},
            )
        ).body["request_id"]
        await gw.advance(5)
        assert (await client.status(default)).body["status"] == "PROCESSING"
        assert (await client.status(other)).body["status"] == "COMPLETED"
        await gw.advance(5)
        done = (await client.status(default)).body
        assert done["status"] == "COMPLETED"
        assert seconds_between(done["created_at"], done["completed_at"]) == 10.0


async def test_time_scale_multiplies_every_duration() -> None:
    config = scenario_config(
        scenario={"time_scale": 0.5},
        faults=[{"route": "status", "action": "latency", "seconds": 2}],
    )
    async with served(config) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(0.5)
        assert memory_of(gw.gateway).jobs[rid].status.value == "PROCESSING"
        await gw.advance(1.0)
        assert memory_of(gw.gateway).jobs[rid].status.value == "COMPLETED"
        assert (await gw.gateway.faults.plan_job("k", "m", None)).processing_seconds == 1.0


async def test_transitions_after_n_polls_instead_of_time() -> None:
    config = scenario_config(delays={"polls": {"queue": 2, "processing": 3}})
    async with served(config) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3600)  # time alone moves nothing
        seen = [(await client.status(rid)).body["status"] for _ in range(5)]
        assert seen == ["QUEUED", "QUEUED", "PROCESSING", "PROCESSING", "PROCESSING"]
        await gw.settle()  # the job's work (render) finishes; no gateway time passes
        assert (await client.status(rid)).body["status"] == "COMPLETED"


async def _job(client: Any, rid: str) -> dict[str, Any]:
    body: dict[str, Any] = await client.admin("GET", f"jobs/{rid}")
    return body


async def test_job_commands_through_the_admin_api() -> None:
    async with served(scenario_config(delays={"queue": 100, "processing": 100})) as (gw, client):
        start = gw.gateway.clock.now()
        a, b, c, d = [(await client.generate()).body["request_id"] for _ in range(4)]
        assert (await client.admin("POST", f"jobs/{a}/advance"))["status"] == "PROCESSING"
        assert (await client.admin("POST", f"jobs/{a}/advance"))["status"] == "COMPLETED"
        assert (await client.admin("POST", f"jobs/{b}/complete"))["status"] == "COMPLETED"
        failed = await client.admin("POST", f"jobs/{c}/fail", {"message": "bad audio"})
        assert (failed["status"], failed["error"]) == ("FAILED", "bad audio")
        assert (await client.admin("POST", f"jobs/{d}/error"))["status"] == "ERROR"
        assert (await client.status(b)).body["output"]["media_url"]
        again = await client.request("POST", f"/_mock/jobs/{c}/complete", key=None)
        assert again.status == 409
        assert "already ended FAILED" in again.body["message"]
        unknown = await client.request("POST", f"/_mock/jobs/{c}/explode", key=None)
        assert unknown.status == 404
        assert gw.gateway.clock.now() == start  # no time passed


async def test_complete_overrides_an_injected_end() -> None:
    async with served() as (gw, client):
        rid = (await client.generate(key="mock-failed")).body["request_id"]
        await gw.gateway.lifecycle.command(rid, "complete")  # the in-process API
        await gw.settle()
        assert (await client.status(rid, key="mock-failed")).body["status"] == "COMPLETED"


async def test_scenario_set_and_reset_at_runtime_json_and_toml() -> None:
    async with served() as (_gw, client):
        rule = {"faults": [{"route": "generate", "action": "http_error", "status": 503}]}
        view = await client.admin("PUT", "scenario", rule)
        assert view["source"] == "PUT /_mock/scenario"
        assert view["rules"] == [{"name": "faults[0]", "action": "http_error", "scenario": None}]
        assert (await client.generate()).status == 503
        await client.admin("DELETE", "scenario")
        assert (await client.generate()).status == 202
        toml = b'[[faults]]\nroute = "generate"\naction = "http_error"\nstatus = 500\n'
        put = await client.request(
            "PUT",
            "/_mock/scenario",
            raw=toml,
            headers={"Content-Type": "application/toml"},
            key=None,
        )
        assert put.status == 200
        assert (await client.generate()).status == 500


async def test_bad_runtime_scenario_is_a_400_naming_the_key() -> None:
    async with served() as (_gw, client):
        bad = {"faults": [{"action": "http_error", "status": 418}]}
        answer = await client.request("PUT", "/_mock/scenario", body=bad, key=None)
        assert answer.status == 400
        assert "faults[0].status" in answer.body["message"]
        assert "418" in answer.body["message"]
        core = await client.request("PUT", "/_mock/scenario", body={"server": {}}, key=None)
        assert core.status == 400
        assert "key 'server'" in core.body["message"]
        assert (await client.generate()).status == 202  # the old scenario still holds


def test_in_process_scenario_values_equal_the_file_ones() -> None:
    data = {"scenario": {"seed": 9}, "faults": [{"action": "latency", "seconds": 1}]}
    assert faults_from_mapping(data, "a").rules == scenario_config(**data).faults.rules
