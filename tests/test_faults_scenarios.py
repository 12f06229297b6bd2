"""Scenario keys and the X-Mock-Scenario header, as an unmodified client reaches them."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from .faults_support import DOC_401_INVALID, DOC_402, eventually, scenario_config
from .support import memory_of, served


async def test_mock_401_answers_as_an_unknown_key_everywhere() -> None:
    async with served() as (_gw, client):
        for answer in (
            await client.generate(key="mock-401"),
            await client.status("bytedance-omnihuman-v1-5-290_x", key="mock-401"),
        ):
            assert answer.status == 401
            assert answer.body == DOC_401_INVALID


async def test_mock_402_is_insufficient_balance_on_generate() -> None:
    async with served() as (gw, client):
        answer = await client.generate(key="mock-402")
        assert answer.status == 402
        assert answer.body == DOC_402
        assert memory_of(gw.gateway).jobs == {}


async def test_mock_403_is_out_of_quota() -> None:
    async with served() as (_gw, client):
        answer = await client.generate(key="mock-403")
        assert answer.status == 403
        assert answer.body["statusCode"] == 403
        assert re.fullmatch(
            r"Out of call volume quota\. Quota will be replenished in \d\d:\d\d:\d\d\.",
            answer.body["message"],
        )


async def test_mock_429_carries_retry_after_matching_its_body() -> None:
    async with served(scenario_config(scenario={"retry_after": 7})) as (_gw, client):
        answer = await client.generate(key="mock-429")
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "7"
        assert answer.body == {
            "statusCode": 429,
            "message": "Rate limit is exceeded. Try again in 7 seconds.",
        }


async def test_mock_500_is_an_internal_server_error() -> None:
    async with served() as (gw, client):
        answer = await client.generate(key="mock-500")
        assert answer.status == 500
        assert answer.body["error"] == "Internal Server Error"
        assert isinstance(answer.body["message"], str)
        entry = list(memory_of(gw.gateway).journal)[-1]
        assert entry.status == 500
        assert "fault rules fired: scenario 500" in entry.notes


@pytest.mark.parametrize(("key", "status"), [("mock-failed", "FAILED"), ("mock-error", "ERROR")])
async def test_mock_failed_and_mock_error_end_the_job_and_charge_nothing(
    key: str, status: str
) -> None:
    async with served() as (gw, client):
        accepted = await client.generate(key=key)
        assert accepted.status == 202
        rid = accepted.body["request_id"]
        await gw.advance(1)
        assert (await client.status(rid, key=key)).body["status"] == "PROCESSING"
        await gw.advance(2)
        body = (await client.status(rid, key=key)).body
        assert body["status"] == status
        assert body["output"] is None
        assert f"{key} scenario" in body["error"]
        wallet = await client.admin("GET", f"wallets/{key}")
        assert wallet["balance"] == "10.00"
        assert wallet["held"] == "0.00"
        movements = [e["movement"] for e in wallet["ledger"]]
        assert "charge" not in movements
        assert "release" in movements  # the cost was held while processing, then released


async def test_header_selects_a_scenario_per_request() -> None:
    async with served() as (_gw, client):
        assert (await client.generate(headers={"X-Mock-Scenario": "500"})).status == 500
        assert (await client.generate(headers={"X-Mock-Scenario": "mock-402"})).status == 402
        assert (await client.generate()).status == 202  # the same key, no header: normal


async def test_unknown_header_scenario_is_a_400_naming_it() -> None:
    async with served() as (_gw, client):
        answer = await client.generate(headers={"X-Mock-Scenario": "nonsense"})
        assert answer.status == 400
        assert answer.body["error"] == "Bad Request"
        assert "X-Mock-Scenario" in answer.body["message"]
        assert "'nonsense'" in answer.body["message"]


async def test_header_selected_job_scenario() -> None:
    async with served() as (gw, client):
        rid = (await client.generate(headers={"X-Mock-Scenario": "error"})).body["request_id"]
        await gw.advance(3)
        assert (await client.status(rid)).body["status"] == "ERROR"


async def test_scenario_keys_can_be_switched_off() -> None:
    async with served(scenario_config(scenario={"keys": False})) as (_gw, client):
        assert (await client.generate(key="mock-500")).status == 202


async def test_a_file_defines_its_own_scenario_selected_by_key() -> None:
    rules = [
        {"scenario": "flaky", "route": "status", "action": "http_error", "status": 503, "nth": 1},
        {"scenario": "flaky", "action": "error", "at": "queued", "message": "queue crashed"},
    ]
    async with served(scenario_config(faults=rules)) as (gw, client):
        rid = (await client.generate(key="mock-flaky")).body["request_id"]
        assert (await client.status(rid, key="mock-flaky")).status == 503
        await gw.advance(1)
        body = (await client.status(rid, key="mock-flaky")).body
        assert body["status"] == "ERROR"
        assert body["error"] == "queue crashed"
        # other keys are untouched by a scenario's rules
        other = (await client.generate()).body["request_id"]
        await gw.advance(3)
        assert (await client.status(other)).body["status"] == "COMPLETED"


async def test_scenario_keys_work_in_strict_key_mode() -> None:
    config = scenario_config(
        keys={"mode": "strict", "accounts": [{"key": "real-key", "balance": "5"}]}
    )
    async with served(config) as (gw, client):
        assert (await client.generate(key="mock-500")).status == 500
        rid = (await client.generate(key="mock-error")).body["request_id"]
        await gw.advance(3)
        assert (await client.status(rid, key="mock-error")).body["status"] == "ERROR"
        assert (await client.generate(key="mock-nothing")).status == 401  # not a scenario


async def test_mock_503_is_service_unavailable() -> None:
    async with served() as (_gw, client):
        answer = await client.generate(key="mock-503")
        assert answer.status == 503
        assert answer.body["error"] == "Service Unavailable"


async def test_mock_slow_holds_every_answer_five_gateway_seconds() -> None:
    async with served() as (gw, client):
        pending = asyncio.ensure_future(client.generate(key="mock-slow"))
        await eventually(lambda: gw.gateway.waiting == 1)
        await gw.advance(4.9)
        assert gw.gateway.waiting == 1  # still held on gateway time: nothing was sent
        assert not pending.done()
        await gw.advance(0.1)
        assert (await asyncio.wait_for(pending, 5)).status == 202


async def test_mock_reset_resets_the_connection() -> None:
    async with served() as (gw, _client), aiohttp.ClientSession() as session:
        with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
            await session.get(
                gw.url + "/v2/requests/status/x",
                headers={"Ocp-Apim-Subscription-Key": "mock-reset"},
            )
