"""Validating messages and whole HTTP answers against the contract's schemas.

:func:`check_response` finds the documented operation for a method and path, the schema the
OpenAPI document names for the answer's status, and returns every way the answer departs from it,
plus the rules a schema cannot say (Retry-After matching the message, polling_url ending in the
request_id, timestamps in order).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from .._errors import ContractViolation
from ._schemas import file_name, load_openapi, load_schema, registry, schema_dir

TIMESTAMP_FIELDS = ("created_at", "updated_at", "completed_at")
_GENERATE = re.compile(r"^/[^/]+/v1/[^/]+$")
_STATUS = re.compile(r"^/v2/requests/status/[^/]+$")
_MEDIA = re.compile(r"^/v1/[^/]+/[^/]+$")
_RETRY_IN = re.compile(r"Try again in (\d+) seconds")


class SchemaViolation(ContractViolation):
    """A message does not match its schema; ``problems`` lists each mismatch."""

    def __init__(self, what: str, problems: list[str]) -> None:
        self.what = what
        self.problems = problems
        super().__init__(f"{what}:\n  " + "\n  ".join(problems))


@cache
def _validator(name: str, directory: Path) -> Any:
    schema = load_schema(name, directory)
    return Draft202012Validator(schema, registry=registry(directory))


def schema_errors(name: str, instance: Any, directory: Path | None = None) -> list[str]:
    """Each way ``instance`` breaks schema ``name``, as ``"at $.path: reason"``; empty if valid."""
    validator = _validator(file_name(name).removesuffix(".schema.json"), directory or schema_dir())
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"at {error.json_path}: {error.message}" for error in errors]


def validate(name: str, instance: Any, directory: Path | None = None) -> None:
    """Raise :class:`SchemaViolation` unless ``instance`` matches schema ``name``."""
    problems = schema_errors(name, instance, directory)
    if problems:
        raise SchemaViolation(f"does not match {file_name(name)}", problems)


def status_body_problems(body: Any, *, require_timestamps: bool = True) -> list[str]:
    """Schema problems of a status body plus the timestamp rules the schema leaves out."""
    problems = schema_errors("status", body)
    if problems or not isinstance(body, dict):
        return problems
    if require_timestamps:
        problems += [
            f"at $.{key}: missing; SPEC and the doc's fields table give every status body "
            f"created_at, updated_at and completed_at"
            for key in TIMESTAMP_FIELDS
            if key not in body
        ]
    created, updated, completed = (body.get(key) for key in TIMESTAMP_FIELDS)
    # The doc's format sorts as text, so string comparison is time comparison.
    if created and updated and updated < created:
        problems.append(f"updated_at {updated} is before created_at {created}")
    if created and completed and completed < created:
        problems.append(f"completed_at {completed} is before created_at {created}")
    return problems


@dataclass(frozen=True, slots=True)
class Operation:
    operation_id: str
    responses: Mapping[str, Any]


def _operation(openapi: Mapping[str, Any], operation_id: str) -> Operation:
    for item in openapi["paths"].values():
        for method_spec in item.values():
            if isinstance(method_spec, dict) and method_spec.get("operationId") == operation_id:
                return Operation(operation_id, method_spec["responses"])
    raise LookupError(f"operationId {operation_id!r} is not in the OpenAPI document")


@cache
def _operations(directory: Path) -> dict[str, Operation]:
    openapi = load_openapi(directory)
    return {op: _operation(openapi, op) for op in ("generate", "getStatus", "getMedia")}


def operation_for(method: str, path: str) -> str | None:
    """The documented operation a request reaches, or None (admin and unknown paths).

    Any ``POST /{model_id}/v1/{operation}`` is the generate operation ([doc] the path shape);
    the OpenAPI document spells it out for the OmniHuman model.
    """
    method = method.upper()
    if method in ("GET", "HEAD") and _STATUS.match(path):
        return "getStatus"
    if method == "POST" and _GENERATE.match(path):
        return "generate"
    if method in ("GET", "HEAD") and _MEDIA.match(path):
        return "getMedia"
    return None


def _schema_of(response_spec: Mapping[str, Any]) -> str | None:
    content = response_spec.get("content", {})
    media = content.get("application/json")
    if media is None:
        return None
    ref: str = media["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def check_response(
    method: str,
    path: str,
    status: int,
    headers: Mapping[str, str],
    raw: bytes,
    *,
    undocumented_errors_ok: bool = False,
    require_timestamps: bool = True,
) -> list[str]:
    """Every way one HTTP answer departs from the contract; empty when it conforms.

    ``undocumented_errors_ok`` accepts an error status the OpenAPI document does not list for the
    operation (an injected fault, a 405) as long as its body is a gateway or API-management error.
    """
    directory = schema_dir()
    operation_id = operation_for(method, path)
    if operation_id is None:
        if status >= 400 and not path.startswith("/_mock/"):
            return _error_body_problems(raw)
        return []
    operation = _operations(directory)[operation_id]
    spec = operation.responses.get(str(status))
    if spec is None:
        if status >= 400 and undocumented_errors_ok:
            return _error_body_problems(raw)
        documented = ", ".join(sorted(operation.responses))
        return [f"{operation_id}: status {status} is not documented (documented: {documented})"]
    problems: list[str] = []
    for name, header_spec in spec.get("headers", {}).items():
        if header_spec.get("required") and _header(headers, name) is None:
            problems.append(f"{operation_id} {status}: header {name} is required")
    schema = _schema_of(spec)
    if schema is None or method.upper() == "HEAD":
        return problems
    content_type = _header(headers, "Content-Type") or ""
    if not content_type.lower().startswith("application/json"):
        problems.append(f"{operation_id} {status}: Content-Type {content_type!r}, want JSON")
    try:
        body = json.loads(raw)
    except ValueError:
        return [*problems, f"{operation_id} {status}: body is not JSON: {raw[:120]!r}"]
    if schema == file_name("status"):
        found = status_body_problems(body, require_timestamps=require_timestamps)
    else:
        found = schema_errors(schema, body)
    problems += [f"{operation_id} {status} ({schema}) {p}" for p in found]
    if not found:
        problems += _semantic_problems(operation_id, status, headers, body, path)
    return problems


def _error_body_problems(raw: bytes) -> list[str]:
    try:
        body = json.loads(raw)
    except ValueError:
        return [f"error body is not JSON: {raw[:120]!r}"]
    if not schema_errors("gateway-error", body) or not schema_errors("apim-error", body):
        return []
    return [f"error body is neither a gateway nor an API-management error: {body!r}"]


def _semantic_problems(
    operation_id: str, status: int, headers: Mapping[str, str], body: Any, path: str
) -> list[str]:
    problems: list[str] = []
    if status == 429:
        retry = _header(headers, "Retry-After")
        said = _RETRY_IN.search(str(body.get("message", "")))
        if retry is not None and said is not None and retry.strip() != said.group(1):
            problems.append(f"429: Retry-After {retry} but the message says {said.group(1)}")
    if "statusCode" in body and body["statusCode"] != status:
        problems.append(f"{status}: body statusCode is {body['statusCode']}")
    if operation_id == "generate" and status == 202:
        want = f"/v2/requests/status/{body['request_id']}"
        if not body["polling_url"].endswith(want):
            problems.append(f"202: polling_url {body['polling_url']} does not end with {want}")
    if operation_id == "getStatus" and status == 200:
        asked = path.rsplit("/", 1)[-1]
        if body["request_id"] != asked:
            problems.append(f"200: request_id {body['request_id']!r} but {asked!r} was asked")
    return problems


__all__ = [
    "TIMESTAMP_FIELDS",
    "SchemaViolation",
    "check_response",
    "operation_for",
    "schema_errors",
    "status_body_problems",
    "validate",
]
