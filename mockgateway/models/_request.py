"""Parsing a generate request for a declared model: body in; a typed request, or a 400 naming the
field and what is wrong with it.

The media inputs are checked first, in declared order, with the gateway's URL rule (the same
pattern the schemas publish); then the body is validated against the model's JSON Schema, the
first complaint (in the order the schema lists its properties) becoming the message. Type and enum
complaints are worded as a person would say them (``resolution must be one of "720p", ...``);
any other keyword keeps the validator's words after the field's name.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .._bodyparse import json_body
from .._errors import bad_request
from .._memo import Memo
from .._validation import type_name, url_field
from ..media import is_aspect
from ._quick import Check, quick_check
from ._schema import validator_for
from ._spec import MAX_OUTPUT_SECONDS, MIN_OUTPUT_SECONDS, RESOLUTION_NAMES, ModelSpec

MAX_SHOWN = 80  # characters of a value quoted back in a message
MAX_MESSAGE = 300
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}
# Which complaint about one field comes first: its absence, then its type, then its value.
_KEYWORD_ORDER = {"required": 0, "type": 1, "enum": 2, "const": 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateRequest:
    inputs: tuple[tuple[str, str], ...]  # (field, URL) of each media input the body gave, in order
    resolution: str | None = None
    aspect_ratio: str | None = None
    seconds: float | None = None  # the planned output length (None: an input's, or none)
    extra_fields: tuple[str, ...] = ()


@cache
def spec_validator(spec: ModelSpec) -> Any:
    """The full validator of a model's request schema, made once per model."""
    return validator_for(spec.request_schema)


@cache
def _quick(spec: ModelSpec) -> Check | None:
    return quick_check(spec.request_schema)


def _listed(names: tuple[str, ...]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _shown(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


def _where(parts: Any) -> str:
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return shown or "request body"


# Bodies parsed before, by model and bytes: clients send the same body again and again (a test
# suite's fixture, a retry), and a request is a function of them. Only bodies this small are kept,
# and only this many, so the memory stays small; a body that fails is parsed again each time.
PARSED_KEPT = 256
PARSED_BODY_BYTES = 4096
_parsed: Memo[tuple[int, bytes], tuple[ModelSpec, GenerateRequest]] = Memo(PARSED_KEPT)


def parse_request(spec: ModelSpec, raw: bytes, *, max_bytes: int) -> GenerateRequest:
    """Parse a generate request's JSON body for ``spec``; raise the gateway's 400 naming the
    problem."""
    if len(raw) > max_bytes:
        raise bad_request(f"request body is {len(raw)} bytes, over the limit of {max_bytes} bytes")
    if type(raw) is not bytes:  # only bytes are kept (hashable, and never change)
        return _parse(spec, raw, max_bytes)
    key = (id(spec), raw)
    known = _parsed.get(key)
    if known is not None and known[0] is spec:  # the same model object, not one at its address
        return known[1]
    parsed = _parse(spec, raw, max_bytes)
    if len(raw) <= PARSED_BODY_BYTES:
        _parsed.keep(key, (spec, parsed))
    return parsed


def _parse(spec: ModelSpec, raw: bytes, max_bytes: int) -> GenerateRequest:
    required = spec.required
    if not raw.strip():
        wanted = f" with {_listed(required)}" if required else ""
        raise bad_request(f"request body is empty; expected a JSON object{wanted}")
    body = json_body(raw, max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise bad_request(f"request body must be a JSON object, got {type_name(body)}")
    inputs = tuple(
        (name, url_field(body, name))
        for name, _kind in spec.inputs
        if name in body or name in required
    )
    _check_schema(spec, body)
    properties = spec.properties
    return GenerateRequest(
        inputs=inputs,
        resolution=_choice(spec.resolution, body, RESOLUTION_NAMES),
        aspect_ratio=_choice(spec.aspect_ratio, body, None),
        seconds=_seconds(spec, body),
        extra_fields=tuple(sorted(k for k in body if k not in properties)),
    )


def _check_schema(spec: ModelSpec, body: dict[str, Any]) -> None:
    quick = _quick(spec)
    if quick is not None and quick(body):
        return
    validator = spec_validator(spec)
    order = {name: i for i, name in enumerate(spec.properties)}

    def rank(error: Any) -> tuple[int, int, list[str]]:
        path = list(error.absolute_path)
        name = path[0] if path else _required_name(error)
        field = order.get(name, len(order)) if isinstance(name, str) else len(order)
        return (field, _KEYWORD_ORDER.get(error.validator, 3), [str(p) for p in path])

    errors = sorted(validator.iter_errors(body), key=rank)
    if errors:
        raise bad_request(_describe(errors[0], spec))


def _required_name(error: Any) -> str | None:
    """The missing property a ``required`` complaint is about."""
    if error.validator != "required":
        return None
    missing = [n for n in error.validator_value if n not in error.instance]
    return missing[0] if missing else None


def _describe(error: Any, spec: ModelSpec) -> str:
    keyword = error.validator
    where = _where(error.absolute_path)
    if keyword == "required":
        name = _required_name(error)
        return f"{f'{where}.{name}' if error.absolute_path else name} is required"
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if keyword == "type":
        wanted = error.validator_value
        kinds = wanted if isinstance(wanted, list) else [wanted]
        enum = schema.get("enum")
        got = type_name(error.instance)
        if isinstance(enum, list) and len(kinds) == 1:
            options = ", ".join(str(v) for v in enum)
            kind = _TYPE_NAMES.get(kinds[0], kinds[0])
            return f"{where} must be {kind}, one of {options}; got {got}"
        names = " or ".join(_TYPE_NAMES.get(k, str(k)) for k in kinds)
        return f"{where} must be {names}, got {got}"
    if keyword == "enum":
        options = ", ".join(json.dumps(v) for v in error.validator_value)
        return f"{where} must be one of {options}; got {_shown(error.instance)}"
    if keyword == "const":
        return f"{where} must be {json.dumps(error.validator_value)}; got {_shown(error.instance)}"
    message = error.message
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 3] + "..."
    return f"{where}: {message}"


def _choice(rule: Any, body: Mapping[str, Any], names: tuple[str, ...] | None) -> str | None:
    """A resolution or aspect ratio: the body's value or the rule's default, checked against
    what the renderer makes (the schema may allow more than that)."""
    if rule is None:
        return None
    value = body.get(rule.field, rule.default) if rule.field else rule.default
    if value is None:
        return None
    if names is not None:
        if value not in names:
            options = ", ".join(f'"{n}"' for n in names)
            raise bad_request(f"{rule.field} must be one of {options}; got {_shown(value)}")
    elif not is_aspect(value):
        raise bad_request(
            f'{rule.field} must be an aspect ratio "W:H", such as "16:9"; got {_shown(value)}'
        )
    return str(value)


def _seconds(spec: ModelSpec, body: Mapping[str, Any]) -> float | None:
    rule = spec.length
    if rule is None or rule.audio is not None:
        return None
    if rule.field is None:
        return rule.seconds
    value = body.get(rule.field, rule.default)
    if value is None:
        raise bad_request(f"{rule.field} is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise bad_request(f"{rule.field} must be a number of seconds, got {type_name(value)}")
    seconds = float(value)
    if not math.isfinite(seconds) or not MIN_OUTPUT_SECONDS <= seconds <= MAX_OUTPUT_SECONDS:
        raise bad_request(
            f"{rule.field} must be from {MIN_OUTPUT_SECONDS:g} to {MAX_OUTPUT_SECONDS:g} seconds,"
            f" got {_shown(value)}"
        )
    return seconds
