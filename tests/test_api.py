"""The documented endpoints over a real loopback socket: shapes and bytes as the doc shows them."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway import config_from_mapping
from mockgateway._jobs import Status
from mockgateway._jsonfmt import wire_json
from mockgateway._timefmt import TIMESTAMP_PATTERN
from mockgateway.web._api import accepted_body

from .support import DOC_BODY, GENERATE_PATH, KEY, MODEL_ID, served

REQUEST_ID = re.compile(
    rf"^{MODEL_ID}_[0-9a-f]{{8}}-[0-9a-f]{{4}}-7[0-9a-f]{{3}}-[89ab][0-9a-f]{{3}}-[0-9a-f]{{12}}$"
)


async def test_doc_example_is_accepted_with_the_documented_202() -> None:
    async with served() as (gw, client):
        answer = await client.generate()
        assert answer.status == 202
        assert answer.headers["Content-Type"].startswith("application/json")
        body = answer.body
        assert list(body) == ["request_id", "status", "polling_url"]
        assert REQUEST_ID.match(body["request_id"])
        assert body["status"] == "QUEUED"
        assert body["polling_url"] == f"{gw.url}/v2/requests/status/{body['request_id']}"


async def test_status_body_has_the_doc_fields_in_order() -> None:
    async with served() as (_gw, client):
        request_id = (await client.generate()).body["request_id"]
        answer = await client.status(request_id)
        assert answer.status == 200
        body = answer.body
        assert list(body) == [
            "request_id",
            "status",
            "model_id",
            "error",
            "output",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        assert body["status"] == "QUEUED"
        assert body["model_id"] == MODEL_ID
        assert body["error"] is None
        assert body["output"] is None
        assert body["completed_at"] is None
        assert body["created_at"] == "2026-03-31T10:00:00.000Z"
        assert TIMESTAMP_PATTERN.match(body["updated_at"])


async def test_polling_url_follows_the_host_the_client_called() -> None:
    async with served() as (_gw, client):
        answer = await client.generate(
            headers={"X-Forwarded-Host": "gateway.example.test", "X-Forwarded-Proto": "https"}
        )
        rid = answer.body["request_id"]
        assert (
            answer.body["polling_url"] == f"https://gateway.example.test/v2/requests/status/{rid}"
        )


async def test_configured_public_base_url_wins() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "server": {"public_base_url": "https://gw.test/"}}
    )
    async with served(config) as (_gw, client):
        body = (await client.generate()).body
        assert body["polling_url"] == f"https://gw.test/v2/requests/status/{body['request_id']}"


async def test_missing_key_gets_the_api_management_401_byte_for_byte() -> None:
    async with served() as (_gw, client):
        answer = await client.generate(key=None)
        assert answer.status == 401
        assert answer.raw == (
            b'{"statusCode": 401, "message": "Access denied due to missing subscription key. '
            b'Make sure to include subscription key when making requests to an API."}'
        )
        empty = await client.status("anything", key="  ")
        assert empty.status == 401
        assert empty.body["message"].startswith("Access denied due to missing subscription key.")


async def test_unknown_key_in_strict_mode_gets_the_invalid_key_401() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "keys": {"mode": "strict", "accounts": [{"key": KEY}]}}
    )
    async with served(config) as (_gw, client):
        assert (await client.generate()).status == 202
        answer = await client.generate(key="someone-else")
        assert answer.status == 401
        assert answer.body == {
            "statusCode": 401,
            "message": "Access denied due to invalid subscription key. "
            "Make sure to provide a valid key for an active subscription.",
        }


async def test_unknown_model_gets_the_doc_400_byte_for_byte() -> None:
    async with served() as (_gw, client):
        path = "/acme-unknown-model/v1/acme-request"
        answer = await client.request("POST", path, body=DOC_BODY)
        assert answer.status == 400
        assert answer.raw == (
            b'{"error": "Model not found", '
            b'"message": "Model \'acme-unknown-model\' not found or is disabled"}'
        )


async def test_disabled_model_is_not_found() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "models": [{"id": MODEL_ID, "enabled": False}]}
    )
    async with served(config) as (_gw, client):
        answer = await client.generate()
        assert answer.status == 400
        assert answer.body == {
            "error": "Model not found",
            "message": f"Model '{MODEL_ID}' not found or is disabled",
        }


async def test_insufficient_balance_gets_the_doc_402_byte_for_byte() -> None:
    async with served() as (_gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.15"})
        answer = await client.generate()
        assert answer.status == 402
        assert answer.raw == (
            b'{"error": "Insufficient Balance", "message": "Your wallet does not have enough balance."}'
        )
        await client.admin("PUT", f"wallets/{KEY}", {"balance": 0.16})
        assert (await client.generate()).status == 202


async def test_unknown_request_id_is_404() -> None:
    async with served() as (_gw, client):
        answer = await client.status(f"{MODEL_ID}_nope")
        assert answer.status == 404
        assert answer.body == {
            "error": "Request not found",
            "message": f"Request '{MODEL_ID}_nope' was not found",
        }


async def test_a_key_cannot_read_another_keys_request() -> None:
    async with served() as (_gw, client):
        rid = (await client.generate()).body["request_id"]
        assert (await client.status(rid)).status == 200
        foreign = await client.status(rid, key="other-key-9999")
        assert foreign.status == 404
        assert foreign.body["error"] == "Request not found"


async def test_unknown_route_and_wrong_operation_answer_resource_not_found() -> None:
    async with served() as (_gw, client):
        for path in ("/v3/whatever", f"/{MODEL_ID}/v1/other-operation"):
            answer = await client.request("POST", path, body=DOC_BODY)
            assert answer.status == 404, path
            assert answer.body == {"statusCode": 404, "message": "Resource not found"}


async def test_wrong_method_on_a_known_path_is_405_naming_the_allowed_ones() -> None:
    async with served() as (_gw, client):
        for method, path, allowed in (
            ("GET", GENERATE_PATH, "POST"),
            ("DELETE", "/v2/requests/status/x", "GET, HEAD"),
        ):
            answer = await client.request(method, path)
            assert answer.status == 405
            assert answer.headers["Allow"] == allowed
            assert answer.body == {
                "error": "Method Not Allowed",
                "message": f"{method} is not allowed on {path}; allowed: {allowed}",
            }


async def test_header_names_are_case_insensitive() -> None:
    async with served() as (_gw, client):
        answer = await client.request(
            "POST",
            GENERATE_PATH,
            body=DOC_BODY,
            key=None,
            headers={"ocp-apim-subscription-key": KEY},
        )
        assert answer.status == 202


@settings(max_examples=300, deadline=None)
@given(
    request_id=st.text(max_size=40),
    polling_url=st.text(max_size=80),  # the origin comes from the client's Host header
    status=st.sampled_from(list(Status)),
)
def test_the_202_template_writes_what_dumps_writes(
    request_id: str, polling_url: str, status: Status
) -> None:
    """Byte for byte, whatever the strings hold: quotes, escapes, non-ASCII, lone surrogates
    (which the JSON written either way turns into U+FFFD)."""
    fields = {"request_id": request_id, "status": status.value, "polling_url": polling_url}
    assert accepted_body(request_id, status, polling_url) == wire_json(fields)[1]


async def test_the_202_echoes_an_odd_forwarded_host_as_valid_json() -> None:
    async with served() as (_gw, client):
        host = 'h\\"\u00e9.test'
        answer = await client.generate(headers={"X-Forwarded-Host": host})
        assert answer.status == 202
        rid = answer.body["request_id"]
        assert answer.body["polling_url"] == f"http://{host}/v2/requests/status/{rid}"


@pytest.mark.parametrize("key", ["", "   ", "\t"])
async def test_a_blank_key_is_refused_on_generate_in_open_mode(key: str) -> None:
    async with served() as (gw, client):
        answer = await client.generate(key=key)
        assert answer.status == 401
        assert await gw.gateway.store.wallet_count() == 0  # no wallet for a blank key
