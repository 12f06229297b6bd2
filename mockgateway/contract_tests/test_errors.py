"""The documented error answers: checks that never queue a job on a conforming gateway."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mockgateway.contract import schema_errors

from ._doc import expect
from .conftest import Target

UNKNOWN_MODEL = "mockgateway-contract-no-such-model"


def _doc_body(target: Target) -> bytes:
    return json.dumps(target.doc_body()).encode()


def test_missing_key_is_401(target: Target) -> None:
    seen = target.send(
        "POST", target.generate_url, body=json.dumps(target.doc_body()).encode(), key=False
    )
    expect(
        seen.status == 401,
        "every request carries Ocp-Apim-Subscription-Key; without it: 401 Unauthorized",
        seen.describe(),
    )


def test_missing_key_body_is_api_management_error(target: Target) -> None:
    seen = target.send(
        "POST", target.generate_url, body=json.dumps(target.doc_body()).encode(), key=False
    )
    body = seen.json()
    problems = schema_errors("apim-error", body)
    expect(
        not problems and body.get("statusCode") == 401,
        "[inferred] a missing key answers the API-management body "
        '{"statusCode": 401, "message": ...}',
        f"{seen.describe()}; {'; '.join(problems)}",
    )


def test_status_without_key_is_401(target: Target) -> None:
    seen = target.send("GET", target.status_url(f"{target.model}_contract-check"), key=False)
    expect(
        seen.status == 401,
        "every request, the status poll too, carries Ocp-Apim-Subscription-Key; without it: 401",
        seen.describe(),
    )


def test_unknown_model_is_400_model_not_found(target: Target) -> None:
    url = f"{target.url}/{UNKNOWN_MODEL}/v1/{target.operation}"
    seen = target.send("POST", url, body=json.dumps(target.doc_body()).encode())
    want = {
        "error": "Model not found",
        "message": f"Model '{UNKNOWN_MODEL}' not found or is disabled",
    }
    body = seen.json()
    expect(
        seen.status == 400 and body == want and list(body) == list(want),
        f"an unknown model answers 400 {json.dumps(want)}",
        seen.describe(),
    )


def test_malformed_json_is_400(target: Target) -> None:
    seen = target.send("POST", target.generate_url, body=b'{"image_url": ')
    expect(seen.status == 400, "a body that is not JSON answers 400 Bad Request", seen.describe())


def test_missing_required_field_is_400(target: Target) -> None:
    required = [r for r in target.case.schema.get("required", []) if r in target.doc_body()]
    if not required:
        pytest.skip(f"the request schema of {target.model} requires no field")
    name = required[0]
    body = {k: v for k, v in target.doc_body().items() if k != name}
    seen = target.send("POST", target.generate_url, body=json.dumps(body).encode())
    expect(
        seen.status == 400,
        f"{name} is a required parameter; a request without it answers 400 Bad Request",
        seen.describe(),
    )


def _outside(enum: list[Any]) -> Any:
    """A value of the enum's own type that it does not list."""
    if all(isinstance(v, str) for v in enum):
        return next(v for v in ("4k", "not-listed", "x" * 40) if v not in enum)
    numbers = [v for v in enum if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return max(numbers) + 1 if len(numbers) == len(enum) else None


def test_value_outside_its_enum_is_400(target: Target) -> None:
    properties = target.case.schema.get("properties", {})
    listed = {
        name: prop["enum"]
        for name, prop in properties.items()
        if isinstance(prop, dict) and isinstance(prop.get("enum"), list) and prop["enum"]
    }
    names = [n for n in ("resolution", *listed) if n in listed and _outside(listed[n]) is not None]
    if not names:
        pytest.skip(f"the request schema of {target.model} lists no enum of strings or numbers")
    name = names[0]
    value = _outside(listed[name])
    body = {**target.doc_body(), name: value}
    seen = target.send("POST", target.generate_url, body=json.dumps(body).encode())
    options = ", ".join(json.dumps(v) for v in listed[name])
    expect(
        seen.status == 400,
        f"{name} supports {options}; {json.dumps(value)} answers 400 Bad Request",
        seen.describe(),
    )
