"""Request faults over a real loopback socket, seen from an aiohttp client as a user sees them."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import aiohttp
import pytest

from mockgateway import ManualClock, ScaledClock, config_from_mapping
from mockgateway.faults import FaultsConfig

from .faults_support import DOC_401_INVALID, DOC_402, START, eventually, scenario_config
from .support import (
    DOC_BODY,
    DOC_HEADERS,
    GENERATE_PATH,
    KEY,
    contract_checks_off,
    memory_of,
    served,
)

ERROR_BODIES = {
    400: {"error": "Bad Request", "message": "injected"},
    401: DOC_401_INVALID,
    402: DOC_402,
    403: {
        "statusCode": 403,
        "message": "Out of call volume quota. Quota will be replenished in 01:00:00.",
    },
    429: {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 1 seconds."},
    500: {"error": "Internal Server Error", "message": "injected"},
    503: {"error": "Service Unavailable", "message": "injected"},
}


@pytest.mark.parametrize("status", sorted(ERROR_BODIES))
async def test_http_error_rule_answers_the_documented_body(status: int) -> None:
    rule = {"route": "generate", "action": "http_error", "status": status}
    if status in (400, 500, 503):
        rule["message"] = "injected"
    async with served(scenario_config(faults=[rule])) as (gw, client):
        answer = await client.generate()
        assert answer.status == status
        assert answer.body == ERROR_BODIES[status]
        assert answer.headers["Content-Type"].startswith("application/json")
        assert memory_of(gw.gateway).jobs == {}  # the request never reached the gateway's job queue
        entry = next(e for e in memory_of(gw.gateway).journal if e.route == "generate")
        assert entry.body == DOC_BODY  # journaled as sent, for the client checker
        polled = await client.status("bytedance-omnihuman-v1-5-290_nope")
        assert polled.status == 404  # the rule was limited to generate


async def test_nth_rule_fires_on_those_requests_only() -> None:
    rule = {"route": "status", "action": "http_error", "status": 500, "nth": [2, 4]}
    async with served(scenario_config(faults=[rule])) as (_gw, client):
        rid = (await client.generate()).body["request_id"]
        statuses = [(await client.status(rid)).status for _ in range(5)]
        assert statuses == [200, 500, 200, 500, 200]


async def test_phase_rule_matches_the_polled_jobs_status() -> None:
    rule = {"route": "status", "phase": "processing", "action": "http_error", "status": 503}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        assert (await client.status(rid)).status == 200
        await gw.advance(1)
        assert (await client.status(rid)).status == 503
        await gw.advance(2)
        assert (await client.status(rid)).body["status"] == "COMPLETED"


async def test_429_retry_after_header_matches_the_body_seconds() -> None:
    limits = {"generate": {"rate": 0.25, "burst": 2}}
    async with served(scenario_config(rate_limits=limits)) as (gw, client):
        assert (await client.generate()).status == 202
        assert (await client.generate()).status == 202
        limited = await client.generate()
        assert limited.status == 429
        seconds = int(limited.headers["Retry-After"])
        assert seconds == 4  # one token per 4 s
        match = re.fullmatch(
            r"Rate limit is exceeded\. Try again in (\d+) seconds\.", limited.body["message"]
        )
        assert match is not None
        assert int(match.group(1)) == seconds
        assert limited.body["statusCode"] == 429
        # another key has its own bucket
        assert (await client.generate(key="other-key-0002")).status == 202
        await gw.advance(seconds - 0.5)
        assert (await client.generate()).status == 429
        await gw.advance(0.5)
        assert (await client.generate()).status == 202


async def test_unknown_key_is_401_before_it_is_rate_limited() -> None:
    config = scenario_config(
        keys={"mode": "strict", "accounts": [{"key": KEY, "balance": "5"}]},
        rate_limits={"status": {"rate": 1, "burst": 1}},
    )
    async with served(config) as (_gw, client):
        for _ in range(3):
            answer = await client.status("x", key="not-a-key-9999")
            assert answer.status == 401
            assert answer.body == DOC_401_INVALID


async def test_concurrent_job_limit_per_key() -> None:
    config = scenario_config(rate_limits={"concurrent_jobs": 2, "concurrent_retry_after": 3})
    async with served(config) as (gw, client):
        assert (await client.generate()).status == 202
        assert (await client.generate()).status == 202
        third = await client.generate()
        assert third.status == 429
        assert third.headers["Retry-After"] == "3"
        assert third.body["message"] == "Rate limit is exceeded. Try again in 3 seconds."
        assert (await client.generate(key="someone-else")).status == 202
        await gw.advance(3)  # both jobs end: slots free again
        assert (await client.generate()).status == 202


async def test_latency_holds_the_answer_for_gateway_seconds() -> None:
    rule = {"route": "status", "action": "latency", "seconds": 3}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        pending = asyncio.ensure_future(client.status(rid))
        await eventually(lambda: gw.gateway.waiting == 1)  # the wait has begun
        await gw.advance(2.9)
        assert gw.gateway.waiting == 1  # still held on gateway time: nothing was sent
        assert not pending.done()
        await gw.advance(0.1)
        answer = await asyncio.wait_for(pending, 5)
        assert answer.status == 200
        entry = [e for e in memory_of(gw.gateway).journal if e.route == "status"][-1]
        assert entry.finished_at - entry.started_at == pytest.approx(3.0)


async def _raw_get(url: str) -> BaseException | bytes:
    async with aiohttp.ClientSession() as session:
        try:
            async with session.get(url, headers={"Ocp-Apim-Subscription-Key": KEY}) as response:
                return await response.read()
        except (aiohttp.ClientError, ValueError) as exc:
            return exc


async def test_reset_is_a_client_side_disconnect_error() -> None:
    rule = {"route": "status", "action": "reset"}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        outcome = await _raw_get(f"{gw.url}/v2/requests/status/{rid}")
        assert isinstance(outcome, aiohttp.ClientOSError | aiohttp.ServerDisconnectedError)
        if isinstance(outcome, aiohttp.ClientOSError):
            assert outcome.errno == 104  # ECONNRESET: a reset, not a clean close
        entries = [e for e in memory_of(gw.gateway).journal if e.route == "status"]
        assert entries
        assert all(e.status is None for e in entries)
        assert entries[0].error == "injected fault: connection reset"


async def test_reset_after_processing_leaves_a_job_the_client_never_heard_of() -> None:
    rule = {"route": "generate", "action": "reset", "processed": True}
    async with (
        served(scenario_config(faults=[rule])) as (gw, _client),
        aiohttp.ClientSession() as session,
    ):
        with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
            await session.post(
                gw.url + GENERATE_PATH,
                data=json.dumps(DOC_BODY),
                headers={**DOC_HEADERS, "Ocp-Apim-Subscription-Key": KEY},
            )
        assert len(memory_of(gw.gateway).jobs) == 1


async def test_empty_response_is_a_server_disconnect() -> None:
    rule = {"route": "status", "action": "empty"}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        outcome = await _raw_get(f"{gw.url}/v2/requests/status/{rid}")
        assert isinstance(outcome, aiohttp.ServerDisconnectedError)


async def test_truncated_body_is_a_payload_error() -> None:
    rule = {"route": "status", "action": "truncate", "fraction": 0.25}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        outcome = await _raw_get(f"{gw.url}/v2/requests/status/{rid}")
        assert isinstance(outcome, aiohttp.ClientPayloadError)
        assert "Not enough data" in str(outcome)


async def test_malformed_body_is_complete_but_not_json() -> None:
    rule = {"route": "status", "action": "malformed"}
    async with served(scenario_config(faults=[rule])) as (_gw, client):
        rid = (await client.generate()).body["request_id"]
        with contract_checks_off():  # the body is broken on purpose
            answer = await client.status(rid)
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith("application/json")
        assert int(answer.headers["Content-Length"]) == len(answer.raw)
        with pytest.raises(json.JSONDecodeError):
            json.loads(answer.raw)
        assert answer.raw.startswith(b'{"request_id": "' + rid.encode()[:4])


async def test_dribbled_body_arrives_over_the_configured_gateway_time() -> None:
    rule = {"route": "status", "action": "dribble", "seconds": 2, "chunks": 4}
    clock = ManualClock(START)
    async with (
        served(scenario_config(faults=[rule]), clock=clock) as (gw, client),
        aiohttp.ClientSession() as session,
    ):
        rid = (await client.generate()).body["request_id"]
        url = f"{gw.url}/v2/requests/status/{rid}"
        async with session.get(url, headers={"Ocp-Apim-Subscription-Key": KEY}) as response:
            total = int(response.headers["Content-Length"])
            received = bytearray()

            async def read_all() -> None:
                async for piece in response.content.iter_any():
                    received.extend(piece)

            reader = asyncio.ensure_future(read_all())
            seen = []
            for step in range(4):
                # the next piece is held on gateway time: nothing is sent before time moves
                await eventually(lambda: gw.gateway.waiting == 1)
                assert len(received) == sum(seen), f"bytes arrived early at step {step}"
                await gw.advance(0.5)
                await eventually(lambda: len(received) > sum(seen))
                seen.append(len(received) - sum(seen))
            await asyncio.wait_for(reader, 5)
        assert len(seen) == 4
        assert all(n > 0 for n in seen)
        assert len(received) == total
        assert json.loads(received)["request_id"] == rid
        assert clock.now() - START == pytest.approx(2.0)


async def test_dribble_follows_a_scaled_clock() -> None:
    rule = {"route": "status", "action": "dribble", "seconds": 4, "chunks": 4}
    clock = ScaledClock(40.0)  # 4 gateway seconds take 0.1 real seconds
    config = scenario_config(faults=[rule], clock={"mode": "scaled", "speed": 40})
    async with served(config, clock=clock) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        before = clock.now()
        answer = await client.status(rid)
        elapsed = clock.now() - before
        assert answer.status == 200
        assert answer.body["request_id"] == rid
        assert 4.0 <= elapsed < 40.0
        entry = [e for e in memory_of(gw.gateway).journal if e.route == "status"][-1]
        assert any("dribbled" in note for note in entry.notes)


async def test_a_client_leaving_mid_dribble_does_not_disturb_the_gateway(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rule = {"route": "status", "action": "dribble", "seconds": 2, "chunks": 4}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        async with aiohttp.ClientSession() as session:
            url = f"{gw.url}/v2/requests/status/{rid}"
            response = await session.get(url, headers={"Ocp-Apim-Subscription-Key": KEY})
            await gw.advance(0.5)
            await eventually(lambda: response.content.total_bytes > 0)
            response.close()  # the client goes away with the body half sent
        for _ in range(4):
            await gw.advance(0.5)
        await gw.gateway.settle()
        await eventually(lambda: any(e.route == "status" for e in memory_of(gw.gateway).journal))
        entry = [e for e in memory_of(gw.gateway).journal if e.route == "status"][-1]
        assert entry.error == "the client closed the connection during the dribble"
        assert not [r for r in caplog.records if r.levelname == "ERROR"]
        await gw.gateway.set_scenario(FaultsConfig())  # no faults: the gateway answers normally
        assert (await client.status(rid)).status == 200


async def test_media_download_can_be_truncated() -> None:
    rule = {"route": "media", "action": "truncate", "fraction": 0.5}
    async with served(scenario_config(faults=[rule])) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3)
        body = (await client.status(rid)).body
        assert body["status"] == "COMPLETED"
        outcome = await _raw_get(body["output"]["media_url"][0])
        assert isinstance(outcome, aiohttp.ClientPayloadError)
        # the status route is untouched by a media rule
        assert (await client.status(rid)).status == 200


async def test_a_faulted_generate_body_is_journaled_within_the_journals_body_cap() -> None:
    """A generate the handler never sees (an injected error) is read by the fault layer; it is
    kept like any other body: to ``journal.max_body_bytes``, with the whole size and digest."""
    rule = {"route": "generate", "action": "http_error", "status": 500, "message": "injected"}
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "journal": {"max_body_bytes": 256}, "faults": [rule]}
    )
    raw = json.dumps({**DOC_BODY, "prompt": "p" * 2000}).encode()
    async with served(config) as (gw, client):
        answer = await client.generate(raw=raw)
        assert answer.status == 500
        (entry,) = [e for e in memory_of(gw.gateway).journal if e.route == "generate"]
    assert (entry.body_size, entry.body_truncated) == (len(raw), True)
    assert entry.body_sha256 == hashlib.sha256(raw).hexdigest()
    assert entry.body == raw[:256].decode()
