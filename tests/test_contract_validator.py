"""check_response: which schema an answer must match, and the rules a schema cannot state."""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict

from mockgateway import config_from_mapping
from mockgateway.contract import (
    SchemaViolation,
    check_response,
    operation_for,
    schema_errors,
    status_body_problems,
    validate,
)

from .support import RESPONSE_CHECKS, Answer, conforms_to_contract, contract_checks_off, served

GENERATE = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
RID = "bytedance-omnihuman-v1-5-290_0195f2a0-0000-7000-8000-000000000000"
JSON = {"Content-Type": "application/json; charset=utf-8"}
ACCEPTED = {
    "request_id": RID,
    "status": "QUEUED",
    "polling_url": f"http://127.0.0.1:8080/v2/requests/status/{RID}",
}
QUEUED = {
    "request_id": RID,
    "status": "QUEUED",
    "model_id": "bytedance-omnihuman-v1-5-290",
    "error": None,
    "output": None,
    "created_at": "2026-03-31T10:00:00.000Z",
    "updated_at": "2026-03-31T10:00:00.000Z",
    "completed_at": None,
}


def _raw(body: Any) -> bytes:
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("method", "path", "operation"),
    [
        ("POST", GENERATE, "generate"),
        ("POST", "/other-model/v1/other-op", "generate"),
        ("GET", f"/v2/requests/status/{RID}", "getStatus"),
        ("GET", f"/v1/{RID}/output.mp4", "getMedia"),
        ("HEAD", f"/v1/{RID}/output.mp4", "getMedia"),
        ("GET", "/_mock/health", None),
        ("DELETE", GENERATE, None),
    ],
)
def test_operation_for(method: str, path: str, operation: str | None) -> None:
    assert operation_for(method, path) == operation


def test_conforming_answers_pass() -> None:
    assert check_response("POST", GENERATE, 202, JSON, _raw(ACCEPTED)) == []
    assert check_response("GET", f"/v2/requests/status/{RID}", 200, JSON, _raw(QUEUED)) == []
    assert check_response("GET", f"/v1/{RID}/output.mp4", 200, {}, b"\x00") == []


@pytest.mark.parametrize(
    ("status", "headers", "body", "complaint"),
    [
        (202, JSON, {**ACCEPTED, "status": "PENDING"}, "$.status"),
        (202, JSON, {k: v for k, v in ACCEPTED.items() if k != "polling_url"}, "polling_url"),
        (202, JSON, {**ACCEPTED, "polling_url": "http://h/v2/requests/status/other"}, "end with"),
        (202, {"Content-Type": "text/plain"}, ACCEPTED, "Content-Type"),
        (200, JSON, ACCEPTED, "status 200 is not documented"),
        (402, JSON, {"error": "Insufficient Balance"}, "'message' is a required property"),
        (401, JSON, {"error": "Unauthorized", "message": "no"}, "apim-error"),
        (429, JSON, {"statusCode": 429, "message": "Try again in 3 seconds."}, "Retry-After"),
        (
            429,
            {**JSON, "Retry-After": "5"},
            {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 3 seconds."},
            "Retry-After 5 but the message says 3",
        ),
        (401, JSON, {"statusCode": 403, "message": "x"}, "statusCode is 403"),
    ],
)
def test_generate_answers_that_break_the_contract(
    status: int, headers: dict[str, str], body: Any, complaint: str
) -> None:
    problems = check_response("POST", GENERATE, status, headers, _raw(body))
    assert any(complaint in p for p in problems), problems


def test_status_body_without_timestamps_is_flagged_only_when_strict() -> None:
    body = {k: v for k, v in QUEUED.items() if not k.endswith("_at")}
    path = f"/v2/requests/status/{RID}"
    problems = check_response("GET", path, 200, JSON, _raw(body))
    assert [p for p in problems if "missing" in p]
    assert len(problems) == 3
    assert check_response("GET", path, 200, JSON, _raw(body), require_timestamps=False) == []


def test_status_for_another_request_is_flagged() -> None:
    problems = check_response("GET", "/v2/requests/status/other", 200, JSON, _raw(QUEUED))
    assert any("but 'other' was asked" in p for p in problems)


def test_undocumented_error_status_needs_an_error_body() -> None:
    body = {"error": "Service Unavailable", "message": "down"}
    assert check_response("POST", GENERATE, 503, JSON, _raw(body))
    assert (
        check_response("POST", GENERATE, 503, JSON, _raw(body), undocumented_errors_ok=True) == []
    )
    assert check_response(
        "POST", GENERATE, 503, JSON, _raw({"oops": 1}), undocumented_errors_ok=True
    ) == ["error body is neither a gateway nor an API-management error: {'oops': 1}"]


def test_unknown_paths_still_need_an_error_shape_and_admin_is_skipped() -> None:
    assert (
        check_response("GET", "/nope", 404, JSON, _raw({"statusCode": 404, "message": "x"})) == []
    )
    assert check_response("GET", "/nope", 404, JSON, b"<html>")
    assert check_response("GET", "/_mock/jobs", 200, JSON, b"[]") == []


def test_validate_raises_a_contract_violation_naming_the_schema() -> None:
    with pytest.raises(SchemaViolation, match=r"generate-accepted.schema.json") as caught:
        validate("generate-accepted", {"status": "QUEUED"})
    assert isinstance(caught.value, AssertionError)
    assert len(caught.value.problems) == 2


# the hook in tests/support.py --------------------------------------------------------------------


def test_every_core_test_answer_passes_the_contract_check() -> None:
    assert conforms_to_contract in RESPONSE_CHECKS


def test_the_support_hook_fails_a_wrong_answer() -> None:
    wrong = Answer("POST", GENERATE, 202, CIMultiDict(JSON), _raw({**ACCEPTED, "status": "DONE"}))
    with pytest.raises(SchemaViolation, match=r"\$\.status"):
        conforms_to_contract(wrong)


async def test_the_support_hook_sees_real_gateway_answers() -> None:
    seen: list[Answer] = []
    RESPONSE_CHECKS.append(seen.append)
    try:
        async with served() as (gw, client):
            rid = (await client.generate()).body["request_id"]
            await gw.advance(60)
            final = await client.status(rid)
            await client.request("GET", final.body["output"]["media_url"][0], key=None)
            await client.status("unknown-id")
            await client.generate(key=None)
    finally:
        RESPONSE_CHECKS.remove(seen.append)
    assert [a.status for a in seen] == [202, 200, 200, 404, 401]


async def test_the_gateways_webhook_bodies_match_the_webhook_schema() -> None:
    from .test_webhooks import receiver

    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "webhooks": {"per_transition": True}}
    )
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(60)
    bodies = [call["body"] for call in hook.calls]
    assert [b["status"] for b in bodies] == ["PROCESSING", "COMPLETED"]
    for body in bodies:
        assert status_body_problems(body) == []
    assert schema_errors("webhook", bodies[-1]) == []
    assert schema_errors("webhook", bodies[0])  # not terminal: a status body, not a webhook body


def test_contract_checks_can_be_switched_off_for_a_block() -> None:
    wrong = Answer("POST", GENERATE, 202, CIMultiDict(JSON), b"garbage")
    with contract_checks_off():
        assert conforms_to_contract not in RESPONSE_CHECKS
    assert RESPONSE_CHECKS[0] is conforms_to_contract
    with pytest.raises(SchemaViolation, match="not JSON"):
        conforms_to_contract(wrong)


@pytest.mark.parametrize(("status", "passes"), [(503, True), (405, True), (418, False)])
def test_the_suites_own_check_allows_only_the_statuses_spec_adds(status: int, passes: bool) -> None:
    body = json.dumps({"error": "Teapot", "message": "an error-shaped body"}).encode()
    headers = CIMultiDict({"Content-Type": "application/json"})
    answer = Answer("GET", "/v2/requests/status/x", status, headers, body)
    if passes:
        conforms_to_contract(answer)
    else:
        with pytest.raises(SchemaViolation, match="not documented"):
            conforms_to_contract(answer)
