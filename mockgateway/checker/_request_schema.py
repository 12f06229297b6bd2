"""A generate request's shape, from the declaration of the model its path calls.

Every model is data (:mod:`mockgateway.models`): its request schema says which body fields it
documents and which it requires. The rules judge each generate body against the model in its
path (``POST /{model_id}/v1/{operation}``), among the models the gateway ran with; a path naming
no model the gateway serves is reported as such, not judged against a schema it does not have.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._errors import ApiError
from ..models import ModelSpec, parse_request, spec_validator


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """What a generate request's path called: a model id and an operation, and the model the
    gateway serves there (None, with ``problem`` saying why, when it serves none)."""

    model_id: str
    operation: str
    spec: ModelSpec | None
    problem: str | None = None


def _listed(models: Mapping[str, ModelSpec]) -> str:
    served = sorted(m.id for m in models.values() if m.enabled)
    return ", ".join(served) if served else "none"


def target_of(path: str, models: Mapping[str, ModelSpec]) -> Target:
    """The model a generate path (``/{model_id}/v1/{operation}``) calls among ``models``."""
    parts = path.strip("/").split("/")
    model_id = parts[0] if parts else ""
    operation = parts[2] if len(parts) == 3 else ""
    spec = models.get(model_id)
    if spec is None:
        problem = f"no model {model_id!r} is declared here (served: {_listed(models)})"
        return Target(model_id=model_id, operation=operation, spec=None, problem=problem)
    if not spec.enabled:
        problem = f"model {model_id!r} is declared but switched off (enabled = false)"
        return Target(model_id=model_id, operation=operation, spec=None, problem=problem)
    if operation != spec.operation:
        problem = (
            f"model {model_id!r} has no operation {operation!r}; its generate path is "
            f"/{spec.id}/v1/{spec.operation}"
        )
        return Target(model_id=model_id, operation=operation, spec=None, problem=problem)
    return Target(model_id=model_id, operation=operation, spec=spec)


def documented_fields(spec: ModelSpec) -> tuple[str, ...]:
    """The body fields ``spec``'s request schema documents (its properties)."""
    return tuple(spec.properties)


def schema_errors(spec: ModelSpec, body: Any) -> list[str]:
    """Readable reasons a body breaks ``spec``'s request schema (``at $.field: reason``), ``[]``
    when it meets it."""
    errors = sorted(spec_validator(spec).iter_errors(body), key=lambda e: list(e.absolute_path))
    return [f"at {error.json_path}: {error.message}" for error in errors]


def refusal(spec: ModelSpec, body: Any) -> str | None:
    """What the gateway refuses in a body that meets ``spec``'s schema (a URL that is not
    absolute, a length out of range), in its 400's words; None when it takes the body."""
    if not isinstance(body, Mapping):
        return None
    raw = json.dumps(body).encode()
    try:
        parse_request(spec, raw, max_bytes=len(raw) + 1)
    except ApiError as exc:
        message = exc.body.get("message")
        return str(message)
    return None


def undocumented_fields(spec: ModelSpec, body: Any) -> list[str]:
    """Fields of a body that ``spec``'s schema does not document but lets through (a schema that
    forbids other fields makes them a schema error instead)."""
    if not isinstance(body, Mapping) or spec.request_schema.get("additionalProperties") is False:
        return []
    known = spec.properties
    return sorted(k for k in body if k not in known)
