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
_BUILTIN_IDS = ("generate", "getMedia")
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
    kind: str = ""  # its first tag: "generate", "status" or "media"


@dataclass(frozen=True, slots=True)
class _Index:
    """A document's operations, found from a method and a concrete path."""

    templated: tuple[tuple[str, re.Pattern[str], Operation], ...]
    by_kind: Mapping[str, Operation]

    def find(self, method: str, path: str) -> Operation | None:
        for allowed, pattern, operation in self.templated:
            if (method == allowed or (method, allowed) == ("HEAD", "GET")) and pattern.match(path):
                return operation
        # Any POST /{model_id}/v1/{operation} is a generate ([doc] the path shape): an unknown or
        # disabled model's answers are every model's; any /v1/{id}/{file} is a media download.
        if method == "POST" and _GENERATE.match(path):
            return self.by_kind.get("generate")
        if method in ("GET", "HEAD") and _MEDIA.match(path):
            return self.by_kind.get("media")
        if method in ("GET", "HEAD") and _STATUS.match(path):
            return self.by_kind.get("status")
        return None


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    return re.compile(
        "^" + "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts) + "$"
    )


def _index_of(openapi: Mapping[str, Any]) -> _Index:
    templated: list[tuple[str, re.Pattern[str], Operation]] = []
    by_kind: dict[str, Operation] = {}
    for path, item in openapi.get("paths", {}).items():
        for method, spec in item.items():
            if not isinstance(spec, dict) or "operationId" not in spec:
                continue
            tags = spec.get("tags") or [""]
            operation = Operation(spec["operationId"], spec.get("responses", {}), str(tags[0]))
            templated.append((method.upper(), _pattern(path), operation))
            # for paths of its shape the document leaves out: the built-in operation of a kind
            # (generate, getMedia) when there is one, else the kind's first
            if operation.kind not in by_kind or operation.operation_id in _BUILTIN_IDS:
                by_kind[operation.kind] = operation
    return _Index(tuple(templated), by_kind)


@cache
def _builtin_index(directory: Path) -> _Index:
    return _index_of(load_openapi(directory))


def _index(document: Mapping[str, Any] | None) -> _Index:
    return _builtin_index(schema_dir()) if document is None else _index_of(document)


def operation_for(method: str, path: str, document: Mapping[str, Any] | None = None) -> str | None:
    """The documented operation a request reaches, or None (admin and unknown paths).

    ``document`` is the OpenAPI document to look in: a gateway's served one
    (``GET /_mock/openapi.json``), where each declared model has its own generate operation; by
    default the built-in ``openapi.json``. A generate path the document does not list (an unknown
    model) is its first generate operation, as is a media file name it does not list.
    """
    operation = _index(document).find(method.upper(), path)
    return operation.operation_id if operation is not None else None


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
    document: Mapping[str, Any] | None = None,
) -> list[str]:
    """Every way one HTTP answer departs from the contract; empty when it conforms.

    ``undocumented_errors_ok`` accepts an error status the OpenAPI document does not list for the
    operation (an injected fault, a 405) as long as its body is a gateway or API-management error.
    ``document`` is the OpenAPI document to check against (see :func:`operation_for`).
    """
    operation = _index(document).find(method.upper(), path)
    if operation is None:
        if status >= 400 and not path.startswith("/_mock/"):
            return _error_body_problems(raw)
        return []
    operation_id = operation.operation_id
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
        problems += _semantic_problems(operation.kind, status, headers, body, path)
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
    kind: str, status: int, headers: Mapping[str, str], body: Any, path: str
) -> list[str]:
    problems: list[str] = []
    if status == 429:
        retry = _header(headers, "Retry-After")
        said = _RETRY_IN.search(str(body.get("message", "")))
        if retry is not None and said is not None and retry.strip() != said.group(1):
            problems.append(f"429: Retry-After {retry} but the message says {said.group(1)}")
    if "statusCode" in body and body["statusCode"] != status:
        problems.append(f"{status}: body statusCode is {body['statusCode']}")
    if kind == "generate" and status == 202:
        want = f"/v2/requests/status/{body['request_id']}"
        if not body["polling_url"].endswith(want):
            problems.append(f"202: polling_url {body['polling_url']} does not end with {want}")
    if kind == "status" and status == 200:
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
