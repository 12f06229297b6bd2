"""A quick yes for request bodies that meet their schema, for the schemas most models have.

A full JSON Schema validator costs tens of microseconds a body, most of a generate request's own
work. Most request schemas use a small part of the language: an object with ``properties`` typed
by ``type``, ``enum``, ``const``, string lengths and patterns, number bounds, ``required`` and
``additionalProperties`` as true or false. :func:`quick_check` compiles such a schema into a
plain function that answers whether a body meets it; a schema using anything else compiles to
None. Only a yes is trusted: a body it refuses goes to the full validator, whose first complaint
becomes the 400's message, so messages never depend on this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_OBJECT_KEYS = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "$schema",
        "$id",
        "title",
        "description",
        "examples",
        "$comment",
    }
)
_VALUE_KEYS = frozenset(
    {
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "title",
        "description",
        "examples",
        "default",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_TYPES: Mapping[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": lambda v: _is_number(v) and (isinstance(v, int) or float(v).is_integer()),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
}


def _same(a: Any, b: Any) -> bool:
    """JSON equality as JSON Schema means it: 1 equals 1.0, but true is not 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b and not isinstance(a, (list, dict))


def _value_check(schema: Any) -> Check | None:
    """A check for one property's schema, or None when it uses more than this module knows."""
    if schema is True:
        return lambda _v: True
    if not isinstance(schema, Mapping) or not set(schema) <= _VALUE_KEYS:
        return None
    checks: list[Check] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not all(isinstance(k, str) and k in _TYPES for k in kinds):
            return None
        tests = [_TYPES[k] for k in kinds]
        checks.append(lambda v: any(t(v) for t in tests))
    if "enum" in schema:
        options = schema["enum"]
        if not isinstance(options, list) or any(isinstance(o, (list, dict)) for o in options):
            return None
        checks.append(lambda v: any(_same(v, o) for o in options))
    if "const" in schema:
        wanted = schema["const"]
        if isinstance(wanted, (list, dict)):
            return None
        checks.append(lambda v: _same(v, wanted))
    for key, test in (("minLength", _at_least), ("maxLength", _at_most)):
        if key in schema:
            limit = schema[key]
            if not isinstance(limit, int) or isinstance(limit, bool):
                return None
            checks.append(test(limit))
    if "pattern" in schema:
        try:
            pattern = re.compile(schema["pattern"])
        except (re.error, TypeError):
            return None
        checks.append(lambda v: not isinstance(v, str) or pattern.search(v) is not None)
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if key in schema:
            bound = schema[key]
            if not _is_number(bound) or not math.isfinite(bound):
                return None
            checks.append(_bounded(key, bound))
    return lambda v: all(check(v) for check in checks)


def _at_least(limit: int) -> Check:
    return lambda v: not isinstance(v, str) or len(v) >= limit


def _at_most(limit: int) -> Check:
    return lambda v: not isinstance(v, str) or len(v) <= limit


def _bounded(key: str, bound: float) -> Check:
    compare: Callable[[float], bool] = {
        "minimum": lambda x: x >= bound,
        "maximum": lambda x: x <= bound,
        "exclusiveMinimum": lambda x: x > bound,
        "exclusiveMaximum": lambda x: x < bound,
    }[key]
    return lambda v: not _is_number(v) or compare(v)


def quick_check(schema: Mapping[str, Any]) -> Check | None:
    """A function telling whether a body meets ``schema``, or None when the schema uses more of
    JSON Schema than this module knows (the full validator is then the only judge)."""
    if not set(schema) <= _OBJECT_KEYS or schema.get("type", "object") != "object":
        return None
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(properties, Mapping) or not isinstance(required, list):
        return None
    if not isinstance(extra, bool):
        return None
    checks: dict[str, Check] = {}
    for name, sub in properties.items():
        check = _value_check(sub)
        if check is None:
            return None
        checks[name] = check
    needed = tuple(required)

    def meets(body: Any) -> bool:
        if not isinstance(body, dict):
            return False
        if any(name not in body for name in needed):
            return False
        for name, value in body.items():
            check = checks.get(name)
            if check is None:
                if not extra:
                    return False
            elif not check(value):
                return False
        return True

    return meets
