"""Drift rules: how one answer of the upstream gateway departs from our contract. Pure.

Each rule turns an answer (the operation it belongs to, its status code, headers and body) into
:class:`Drift` values with a stable ``id``, so a run reports each difference once however often
the upstream repeats it. ``documented`` says whether the behaviour that drifted is one the API's
doc states ([doc] in SPEC): those fail a report; the rest ([inferred], [mock]) are warnings.
The schemas are the contract's own (:mod:`mockgateway.contract`); the rules add what a schema
does not say (fields it does not list, the flow between two polls).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from ..contract import load_openapi, load_schema, registry, schema_dir
from ..contract._validate import TIMESTAMP_FIELDS

STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
TERMINAL = frozenset(STATUSES[2:])
_RANK = {"QUEUED": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "ERROR": 2}
# operation -> (its path in the OpenAPI document, method); "webhook" is the status body posted
OPERATIONS = {
    "generate": ("/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request", "post"),
    "getStatus": ("/v2/requests/status/{request_id}", "get"),
    "getMedia": ("/v1/{request_id}/output.mp4", "get"),
}
_SUCCESS_SCHEMA = {("generate", 202): "generate-accepted", ("getStatus", 200): "status"}
# [doc] bodies the doc shows byte for byte
DOC_ERROR_BODIES = {
    402: {"error": "Insufficient Balance", "message": "Your wallet does not have enough balance."},
}


class DriftKind(StrEnum):
    MISSING_FIELD = "missing-field"
    EXTRA_FIELD = "extra-field"
    TYPE = "type"
    STATUS_VALUE = "status-value"
    TIMESTAMP = "timestamp-format"
    ERROR_BODY = "error-body"
    UNDOCUMENTED_STATUS = "undocumented-status"
    TRANSITION = "illegal-transition"
    HEADER = "header"
    NOT_JSON = "not-json"
    TOO_LARGE = "too-large"


# Whether a drift of each kind is a documented behaviour drifting (fails the report).
DOCUMENTED = {
    DriftKind.MISSING_FIELD: True,
    DriftKind.EXTRA_FIELD: False,  # the doc lists fields; one more breaks no client that reads it
    DriftKind.TYPE: True,
    DriftKind.STATUS_VALUE: True,
    DriftKind.TIMESTAMP: True,
    DriftKind.ERROR_BODY: False,  # most error bodies are [inferred]; the doc's own are below
    DriftKind.UNDOCUMENTED_STATUS: True,
    DriftKind.TRANSITION: True,
    DriftKind.HEADER: False,  # Retry-After is [inferred]
    DriftKind.NOT_JSON: True,
    DriftKind.TOO_LARGE: False,  # the doc sets no size; the client got a 502 from the proxy
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Drift:
    """One difference; ``id`` names it stably (kind, operation, where, what was seen)."""

    id: str
    kind: DriftKind
    operation: str
    message: str
    documented: bool


def _drift(
    kind: DriftKind, operation: str, where: str, message: str, *, documented: bool | None = None
) -> Drift:
    return Drift(
        id=f"{kind.value}:{operation}:{where}",
        kind=kind,
        operation=operation,
        message=message,
        documented=DOCUMENTED[kind] if documented is None else documented,
    )


@cache
def documented_statuses(operation: str) -> frozenset[int]:
    """The status codes the OpenAPI document lists for an operation."""
    path, method = OPERATIONS[operation]
    responses = load_openapi(schema_dir())["paths"][path][method]["responses"]
    return frozenset(int(code) for code in responses)


@cache
def _validator(name: str) -> Any:
    directory = schema_dir()
    return Draft202012Validator(load_schema(name, directory), registry=registry(directory))


@cache
def _listed_fields(name: str) -> tuple[frozenset[str], frozenset[str]]:
    """The fields a schema names at the top and, for the status body, inside ``output``."""
    schema = load_schema(name, schema_dir())
    top = frozenset(schema.get("properties", {}))
    output = frozenset(schema.get("$defs", {}).get("output", {}).get("properties", {}))
    return top, output


def _path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def schema_drifts(operation: str, schema: str, body: Any) -> list[Drift]:
    """A JSON body against its schema, each departure classified; fields the schema does not
    list are reported too (the schemas allow them, the doc does not show them)."""
    found: dict[str, Drift] = {}
    for error in _validator(schema).iter_errors(body):
        for d in _classify(operation, error):
            found.setdefault(d.id, d)
    if isinstance(body, dict):
        top, output = _listed_fields(schema)
        extra = [(f"$.{k}", k) for k in body if k not in top]
        out = body.get("output")
        if output and isinstance(out, dict):
            extra += [(f"$.output.{k}", k) for k in out if k not in output]
        for where, _ in extra:
            found.setdefault(
                f"{DriftKind.EXTRA_FIELD.value}:{operation}:{where}",
                _drift(DriftKind.EXTRA_FIELD, operation, where, f"{where}: a field the doc does "
                       f"not list, e.g. {_shown(_at(body, where))}"),
            )  # fmt: skip
    return list(found.values())


def _at(body: Any, where: str) -> Any:
    value = body
    for part in where.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _classify(operation: str, error: Any) -> Iterator[Drift]:
    parts = list(error.absolute_path)
    where = _path(parts)
    name = parts[-1] if parts else None
    if error.validator == "required":
        for missing in error.validator_value:
            if isinstance(error.instance, dict) and missing not in error.instance:
                at = f"{where}.{missing}"
                yield _drift(DriftKind.MISSING_FIELD, operation, at, f"{at}: missing")
        return
    if name == "status" and len(parts) == 1:
        seen = error.instance
        yield _drift(
            DriftKind.STATUS_VALUE, operation, f"$.status={_shown(seen)}",
            f"$.status is {_shown(seen)}, not one of {', '.join(STATUSES)}",
        )  # fmt: skip
        return
    if name in TIMESTAMP_FIELDS and isinstance(error.instance, str):
        yield _drift(
            DriftKind.TIMESTAMP, operation, where,
            f"{where} is {_shown(error.instance)}, not like 2026-03-31T10:00:15.000Z",
        )  # fmt: skip
        return
    yield _drift(
        DriftKind.TYPE, operation, where, f"{where}: {_shown(error.instance)}: {error.message}"
    )


def _header(headers: Mapping[str, str], wanted: str) -> str | None:
    wanted = wanted.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _json(raw: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return False, None


def too_large(operation: str, status: int, cap: int) -> Drift:
    """An answer longer than the proxy reads (it answers the client 502 instead)."""
    return _drift(DriftKind.TOO_LARGE, operation, str(status),
                  f"{status} answer over {cap} bytes; the proxy answered 502")  # fmt: skip


def answer_drifts(
    operation: str, status: int, headers: Mapping[str, str], raw: bytes, *, head: bool = False
) -> list[Drift]:
    """Every way one upstream answer departs from the contract (empty when it conforms)."""
    drifts: list[Drift] = []
    if status not in documented_statuses(operation):
        listed = ", ".join(str(s) for s in sorted(documented_statuses(operation)))
        drifts.append(
            _drift(DriftKind.UNDOCUMENTED_STATUS, operation, str(status),
                   f"answered {status}, which the doc does not list (documented: {listed})")
        )  # fmt: skip
    if status >= 400:
        return drifts + _error_drifts(operation, status, headers, raw, head=head)
    schema = _SUCCESS_SCHEMA.get((operation, status))
    if schema is None or head:
        return drifts
    ok, body = _json(raw)
    if not ok:
        return [*drifts, _drift(DriftKind.NOT_JSON, operation, str(status),
                                f"{status} body is not JSON: {raw[:60]!r}")]  # fmt: skip
    return drifts + schema_drifts(operation, schema, body)


def _error_drifts(
    operation: str, status: int, headers: Mapping[str, str], raw: bytes, *, head: bool
) -> list[Drift]:
    drifts: list[Drift] = []
    if status == 429 and _header(headers, "Retry-After") is None:
        drifts.append(
            _drift(DriftKind.HEADER, operation, "429.Retry-After", "429 without Retry-After")
        )
    if head or operation == "getMedia":
        return drifts
    ok, body = _json(raw)
    where = str(status)
    if status in DOC_ERROR_BODIES:
        if body != DOC_ERROR_BODIES[status]:
            drifts.append(
                _drift(DriftKind.ERROR_BODY, operation, where,
                       f"{status} body {raw[:120]!r}, the doc shows "
                       f"{json.dumps(DOC_ERROR_BODIES[status])}", documented=True)
            )  # fmt: skip
        return drifts
    shapes = ("gateway-error", "apim-error")
    if not ok or not any(not list(_validator(s).iter_errors(body)) for s in shapes):
        drifts.append(
            _drift(DriftKind.ERROR_BODY, operation, where,
                   f"{status} body {raw[:120]!r} is neither {{\"error\", \"message\"}} nor "
                   "{\"statusCode\", \"message\"}")
        )  # fmt: skip
    return drifts


def webhook_drifts(raw: bytes) -> list[Drift]:
    """A callback the upstream posted: the status body ([doc] "via Status/Webhook")."""
    ok, body = _json(raw)
    if not ok:
        return [_drift(DriftKind.NOT_JSON, "webhook", "body", f"body is not JSON: {raw[:60]!r}")]
    return schema_drifts("webhook", "status", body)


def normal_status(value: Any) -> str | None:
    """A status value as the flow knows it (another case counts: its spelling is a drift of
    its own), or None when it is none of the five."""
    if isinstance(value, str) and value.upper() in _RANK:
        return value.upper()
    return None


def transition_drift(previous: str | None, current: str, operation: str) -> Drift | None:
    """A move the flow QUEUED -> PROCESSING -> COMPLETED | FAILED | ERROR does not allow, between
    two answers about one job (a poll may miss a phase; it may never go back or leave an end)."""
    if previous is None or previous == current:
        return None
    if previous in TERMINAL or _RANK[current] < _RANK[previous]:
        return _drift(
            DriftKind.TRANSITION, operation, f"{previous}->{current}",
            f"a job went {previous} -> {current}; the flow is QUEUED -> PROCESSING -> "
            "COMPLETED | FAILED | ERROR",
        )  # fmt: skip
    return None
