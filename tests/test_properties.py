"""Property tests: the exported strategies agree with the schemas, and the live gateway with both.

The gateway runs on a manual clock, so the accepted jobs never start and no work piles up.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockgateway import ApiError, ThreadedGateway, config_from_mapping, serve_in_thread
from mockgateway._validation import INPUT_URL_PATTERN, WEBHOOK_URL_PATTERN, parse_webhook_url
from mockgateway.contract import check_response, schema_errors, status_body_problems
from mockgateway.contract.strategies import (
    STATUSES,
    GenerateCall,
    InvalidGenerate,
    accepted_bodies,
    generate_calls,
    generate_requests,
    invalid_generate_calls,
    status_bodies,
    timestamps,
    webhook_bodies,
)
from mockgateway.models import builtin_models, parse_request
from tests.support import memory_of

DOC_BODY = {"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3"}
GENERATE = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
PURE = settings(max_examples=100, deadline=None)
LIVE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


# the strategies against the schemas (no server) --------------------------------------------------


OMNIHUMAN = builtin_models()[0]


@PURE
@given(generate_requests())
def test_valid_requests_match_the_request_schema(body: dict[str, Any]) -> None:
    assert schema_errors("generate-request", body) == []


@PURE
@given(generate_calls())
def test_valid_calls_parse(call: GenerateCall) -> None:
    parsed = parse_request(OMNIHUMAN, call.raw, max_bytes=64 * 1024)
    assert dict(parsed.inputs)["image_url"] == call.body["image_url"]
    assert parse_webhook_url(call.headers.get("X-Webhook-URL")) == call.headers.get("X-Webhook-URL")


@PURE
@given(invalid_generate_calls())
def test_each_invalid_call_breaks_the_contract_where_it_says(call: InvalidGenerate) -> None:
    if call.field == "X-Webhook-URL":
        assert not re.search(WEBHOOK_URL_PATTERN, call.headers["X-Webhook-URL"])
        assert schema_errors("generate-request", json.loads(call.raw)) == []
    else:
        try:
            body = json.loads(call.raw.decode())
        except ValueError:
            assert call.field == "body"
            return
        errors = schema_errors("generate-request", body)
        assert errors
        if call.field != "body":
            assert all(call.field in e or "required property" in e for e in errors), errors


@PURE
@given(invalid_generate_calls())
def test_the_gateways_parser_rejects_each_invalid_call_naming_the_field(
    call: InvalidGenerate,
) -> None:
    def parse() -> None:
        parse_request(OMNIHUMAN, call.raw, max_bytes=64 * 1024)
        parse_webhook_url(call.headers.get("X-Webhook-URL"))

    with pytest.raises(ApiError) as caught:
        parse()
    assert caught.value.status == 400
    assert call.field in caught.value.body["message"]


def _gateway_accepts(body: dict[str, Any]) -> bool:
    try:
        parse_request(OMNIHUMAN, json.dumps(body).encode(), max_bytes=64 * 1024)
    except ApiError:
        return False
    return True


@PURE
@given(st.one_of(st.text(max_size=60), st.from_regex(INPUT_URL_PATTERN, fullmatch=True)))
def test_schema_and_gateway_agree_on_every_image_url(text: str) -> None:
    body = {"image_url": text, "audio_url": "https://a.test/a.mp3"}
    assert (schema_errors("generate-request", body) == []) == _gateway_accepts(body)


@PURE
@given(
    st.one_of(
        st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
        st.from_regex(WEBHOOK_URL_PATTERN, fullmatch=True),
    )
)
def test_schema_and_gateway_agree_on_every_webhook_url(text: str) -> None:
    try:
        parse_webhook_url(text)
    except ApiError:
        accepted = False
    else:
        accepted = True
    assert bool(re.search(WEBHOOK_URL_PATTERN, text)) == accepted


@pytest.mark.parametrize("status", STATUSES)
def test_status_bodies_match_the_schema_for_every_status(status: str) -> None:
    @PURE
    @given(status_bodies(status))
    def check(body: dict[str, Any]) -> None:
        assert body["status"] == status
        assert status_body_problems(body) == []

    check()


@PURE
@given(webhook_bodies())
def test_webhook_bodies_match_the_webhook_schema(body: dict[str, Any]) -> None:
    assert schema_errors("webhook", body) == []


@PURE
@given(accepted_bodies())
def test_accepted_bodies_match_the_202_schema(body: dict[str, Any]) -> None:
    assert schema_errors("generate-accepted", body) == []


@PURE
@given(timestamps())
def test_timestamps_are_in_the_doc_format(stamp: str) -> None:
    assert TIMESTAMP.match(stamp)


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="QUEUED, PROCESSING"):
        status_bodies("DONE")


# against the live gateway over loopback ----------------------------------------------------------


class Wire:
    """One keep-alive HTTP connection to the served gateway."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        assert parts.hostname
        assert parts.port
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)

    def post(self, raw: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        sent = {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "Ocp-Apim-Subscription-Key": "property-key",
            **headers,
        }
        self.conn.request("POST", GENERATE, body=raw, headers=sent)
        response = self.conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[ThreadedGateway, Wire]]:
    config = config_from_mapping({"clock": {"mode": "manual"}})
    with serve_in_thread(config) as gw:
        wire = Wire(gw.url)
        yield gw, wire
        wire.conn.close()


@LIVE
@given(call=generate_calls())
def test_every_valid_request_is_accepted(
    live: tuple[ThreadedGateway, Wire], call: GenerateCall
) -> None:
    _, wire = live
    status, headers, raw = wire.post(call.raw, call.headers)
    assert status == 202, raw
    assert check_response("POST", GENERATE, status, headers, raw) == []


@LIVE
@given(call=invalid_generate_calls())
def test_every_invalid_request_is_a_400_naming_the_field(
    live: tuple[ThreadedGateway, Wire], call: InvalidGenerate
) -> None:
    _, wire = live
    status, headers, raw = wire.post(call.raw, call.headers)
    assert status == 400, (call, raw)
    assert check_response("POST", GENERATE, status, headers, raw) == []
    body = json.loads(raw)
    assert body["error"] == "Bad Request"
    assert call.field in body["message"], (call, body)


@LIVE
@given(
    raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
    headers=st.dictionaries(
        st.sampled_from(["X-Webhook-URL", "Content-Type", "Cache-Control"]),
        st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
        max_size=3,
    ),
)
def test_no_generated_input_gets_a_server_error(
    live: tuple[ThreadedGateway, Wire], raw: bytes, headers: dict[str, str]
) -> None:
    _, wire = live
    status, answer_headers, answer = wire.post(raw, headers)
    assert status < 500, answer
    assert check_response("POST", GENERATE, status, answer_headers, answer) == []


def test_accepted_jobs_wait_on_the_manual_clock(live: tuple[ThreadedGateway, Wire]) -> None:
    gw, wire = live
    assert wire.post(json.dumps(DOC_BODY).encode(), {})[0] == 202
    statuses = gw.run(lambda: {j.status.value for j in memory_of(gw.gateway).jobs.values()})
    assert statuses <= {"QUEUED"}
