"""valid_bodies / invalid_bodies for every declared model: what they make, the parser and the
schema agree with, and a live gateway serving examples/models.toml answers as they say."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from mockgateway import ApiError, ThreadedGateway, serve_in_thread
from mockgateway.contract.strategies import InvalidGenerate, invalid_bodies, valid_bodies
from mockgateway.models import ModelSpec, parse_request, validator_for

from .contract_support import models_config

MODELS = {m.id: m for m in models_config().models}
MAX_BYTES = 64 * 1024
PURE = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LIVE = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def test_the_examples_declare_four_models() -> None:
    assert len(MODELS) == 4


def _refusal(spec: ModelSpec, raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as refused:
        parse_request(spec, raw, max_bytes=MAX_BYTES)
    return refused.value


@pytest.mark.parametrize("model_id", list(MODELS))
def test_every_valid_body_parses_and_meets_the_schema(model_id: str) -> None:
    spec = MODELS[model_id]
    validator = validator_for(spec.request_schema)

    @PURE
    @given(valid_bodies(spec))
    def check(body: dict[str, Any]) -> None:
        assert list(validator.iter_errors(body)) == []
        parsed = parse_request(spec, json.dumps(body).encode(), max_bytes=MAX_BYTES)
        assert dict(parsed.inputs) == {name: body[name] for name, _ in spec.inputs if name in body}

    check()


@pytest.mark.parametrize("model_id", list(MODELS))
def test_every_invalid_body_is_a_400_naming_its_field(model_id: str) -> None:
    spec = MODELS[model_id]

    @PURE
    @given(invalid_bodies(spec))
    def check(call: InvalidGenerate) -> None:
        refused = _refusal(spec, call.raw)
        assert refused.status == 400
        assert call.field in refused.body["message"], (call, refused.body)

    check()


@pytest.mark.parametrize("model_id", list(MODELS))
def test_each_required_field_is_left_out_by_some_invalid_body(model_id: str) -> None:
    spec = MODELS[model_id]
    for name in spec.required:
        found = find(invalid_bodies(spec), lambda c, n=name: (c.field, c.reason) == (n, "missing"))
        assert name not in json.loads(found.raw)


def test_media_inputs_take_the_urls_given() -> None:
    spec = MODELS["acme-image-to-video-v2"]
    sample = "http://127.0.0.1:9/_mock/samples/portrait.png"
    body = find(valid_bodies(spec, urls={"image": st.just(sample)}), lambda b: True)
    assert body["image_url"] == sample


def test_a_closed_schema_gets_no_extras_and_a_refused_extra_is_named() -> None:
    spec = MODELS["acme-image-to-video-v2"]  # additionalProperties: false
    body = find(valid_bodies(spec), lambda b: len(b) == len(spec.properties))
    assert set(body) == set(spec.properties)
    extra = find(invalid_bodies(spec), lambda c: c.reason == "not a documented field")
    assert extra.field in _refusal(spec, extra.raw).body["message"]


def test_the_length_and_the_resolution_stay_what_the_gateway_plans() -> None:
    speech = MODELS["acme-text-to-speech-v1"]

    @PURE
    @given(valid_bodies(speech))
    def check(body: dict[str, Any]) -> None:
        parsed = parse_request(speech, json.dumps(body).encode(), max_bytes=MAX_BYTES)
        assert parsed.seconds is not None
        assert 0 < parsed.seconds <= 60

    check()


# against a live gateway serving examples/models.toml -----------------------------------------------


class Wire:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)

    def post(self, path: str, raw: bytes) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": "prop-key"}
        self.conn.request("POST", path, body=raw, headers=headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[ThreadedGateway, Wire]]:
    config = models_config(clock={"mode": "manual"}, keys={"default_balance": "100000"})
    with serve_in_thread(config) as gw:
        wire = Wire(gw.url)
        yield gw, wire
        wire.conn.close()


@pytest.mark.parametrize("model_id", list(MODELS))
def test_the_gateway_accepts_every_valid_body_and_names_each_broken_field(
    live: tuple[ThreadedGateway, Wire], model_id: str
) -> None:
    spec = MODELS[model_id]
    path = f"/{spec.id}/v1/{spec.operation}"
    _gw, wire = live

    @LIVE
    @given(valid_bodies(spec), invalid_bodies(spec))
    def check(body: dict[str, Any], call: InvalidGenerate) -> None:
        status, answer = wire.post(path, json.dumps(body).encode())
        assert status == 202, answer
        assert answer["request_id"].startswith(f"{spec.id}_")
        status, answer = wire.post(path, call.raw)
        assert status == 400, (call, answer)
        assert call.field in answer["message"], (call, answer)

    check()
