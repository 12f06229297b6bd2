"""Generate bodies for any declared model, valid and invalid, from its request schema.

The values of ordinary fields are drawn from the schema by ``hypothesis-jsonschema``; the fields
the gateway reads itself get what it accepts: media inputs URLs (the forms of
:func:`input_urls`, or the URLs given), a resolution the renderer makes, an aspect ratio ``W:H``,
a length the gateway will plan. Each invalid body is a valid one broken in exactly one way, and
names the field a 400 must name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from ..media import is_aspect
from ..models import (
    MAX_OUTPUT_SECONDS,
    MIN_OUTPUT_SECONDS,
    RESOLUTION_NAMES,
    ModelSpec,
    validator_for,
)
from ._strategy_parts import (
    MISSING,
    InvalidGenerate,
    broken_body,
    broken_url_field,
    input_urls,
    not_object_bodies,
)

_EXTRA_NAMES = ("x_trace", "seed", "turbo_mode", "mask_url", "client_ref")
_EXTRA_VALUES = st.one_of(st.text(max_size=20), st.booleans(), st.integers(-1000, 1000), st.none())
_ASPECTS = ("16:9", "9:16", "1:1", "4:3", "3:4")
_BY_TYPE: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(max_size=8),
    "number": st.floats(-1e6, 1e6, allow_nan=False),
    "integer": st.integers(-1000, 1000),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.integers(0, 9), max_size=2),
    "object": st.dictionaries(st.sampled_from("abc"), st.integers(0, 9), max_size=1),
}
URLS = Mapping[str, st.SearchStrategy[str]]  # a media kind ("image", "audio") -> its URLs
Broken = tuple[str, str, Any]  # (field, reason, value or MISSING)


def _fits(schema: Any) -> Any:
    """Whether a value meets one property's schema (a property the gateway reads itself)."""
    validator = validator_for(schema if isinstance(schema, Mapping) else {})
    return validator.is_valid


def _read_fields(spec: ModelSpec, urls: URLS | None) -> dict[str, st.SearchStrategy[Any]]:
    """The values the gateway accepts for the fields it reads itself."""
    properties = spec.properties
    found: dict[str, st.SearchStrategy[Any]] = {}
    for name, kind in spec.inputs:
        given = (urls or {}).get(kind.value)
        found[name] = given if given is not None else input_urls(kind.value)  # type: ignore[arg-type]
    for rule, known in ((spec.resolution, RESOLUTION_NAMES), (spec.aspect_ratio, None)):
        if rule is None or not rule.field:
            continue
        enum = properties.get(rule.field, {}).get("enum")
        options = [v for v in enum] if isinstance(enum, list) else list(known or _ASPECTS)
        allowed = [v for v in options if (v in known if known is not None else is_aspect(v))]
        found[rule.field] = st.sampled_from(allowed)
    length = spec.length
    if length is not None and length.field is not None:
        found[length.field] = from_schema(dict(properties.get(length.field, {}))).filter(
            lambda v: isinstance(v, (int, float)) and MIN_OUTPUT_SECONDS <= v <= MAX_OUTPUT_SECONDS
        )
    return {name: values.filter(_fits(properties.get(name, {}))) for name, values in found.items()}


def _needed(spec: ModelSpec) -> set[str]:
    """The fields a body must give: the schema's required ones, and a length without default."""
    needed = set(spec.required)
    length = spec.length
    if length is not None and length.field is not None and length.default is None:
        needed.add(length.field)
    return needed


def _open(spec: ModelSpec) -> bool:
    return spec.request_schema.get("additionalProperties", True) is not False


def _value(schema: Any) -> st.SearchStrategy[Any]:
    """Values meeting one property's schema. Objects are built here, field by field
    (hypothesis-jsonschema 0.23 draws no objects with the Hypothesis this project uses)."""
    if not isinstance(schema, Mapping):
        return st.none() if schema is False else st.integers(0, 9)
    if schema.get("type") == "object" or "properties" in schema:
        return _object(schema, {}, set(_names(schema.get("required"))))
    plain = {k: v for k, v in schema.items() if k not in ("examples", "$id", "$schema")}
    return from_schema(plain)


def _names(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _object(
    schema: Mapping[str, Any], read: Mapping[str, st.SearchStrategy[Any]], needed: set[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """Objects of ``schema``'s properties: the ``needed`` ones always, the others or not;
    ``read`` gives the values of some."""
    properties = schema.get("properties", {})
    values = {
        name: read[name] if name in read else _value(sub)
        for name, sub in (properties.items() if isinstance(properties, Mapping) else ())
    }
    return st.fixed_dictionaries(
        {k: v for k, v in values.items() if k in needed},
        optional={k: v for k, v in values.items() if k not in needed},
    )


def valid_bodies(
    spec: ModelSpec, *, urls: URLS | None = None, extra_fields: bool = True
) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies ``spec``'s gateway accepts: they meet its request schema's ``properties`` and
    ``required`` (other top-level keywords are not consulted), their media inputs are URLs
    (``urls[kind]`` when given, e.g. the bundled samples), the fields it reads are values it
    can render; with ``extra_fields``, undocumented fields where the schema allows them."""
    extras = [n for n in _EXTRA_NAMES if n not in spec.properties]
    extra = (
        st.dictionaries(st.sampled_from(extras), _EXTRA_VALUES, max_size=2)
        if extra_fields and extras and _open(spec)
        else st.just({})
    )
    documented = _object(spec.request_schema, _read_fields(spec, urls), _needed(spec))
    return st.builds(lambda more, body: {**more, **body}, extra, documented)


def _wrong_types(name: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Broken] | None:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
    if not kinds:
        return None
    allowed = set(kinds) | ({"integer", "number"} if {"integer", "number"} & set(kinds) else set())
    others = [s for t, s in _BY_TYPE.items() if t not in allowed]
    return st.one_of(others).map(lambda v: (name, f"not {' or '.join(kinds)}", v))


def _outside_enum(name: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Broken] | None:
    enum = schema.get("enum")
    if not isinstance(enum, list) or not enum:
        return None
    if all(isinstance(v, str) for v in enum):
        values: st.SearchStrategy[Any] = st.text(max_size=10)
    elif all(isinstance(v, int) and not isinstance(v, bool) for v in enum):
        values = st.integers(-1000, 1000)
    else:
        return None
    reason = f"not one of {', '.join(map(str, enum))}"
    return values.filter(lambda v: v not in enum).map(lambda v: (name, reason, v))


def _beyond(name: str, key: str, bound: float, sign: int, least: int) -> st.SearchStrategy[Broken]:
    """Numbers ``least`` or more past ``bound`` (down for a minimum, up for a maximum)."""

    def broken(n: int) -> Broken:
        return (name, f"beyond its {key}", bound + sign * n)

    return st.integers(least, 1000).map(broken)


def _out_of_range(name: str, schema: Mapping[str, Any]) -> list[st.SearchStrategy[Broken]]:
    found: list[st.SearchStrategy[Broken]] = []
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and low > 0:
        found.append(st.text(max_size=low - 1).map(lambda v: (name, "too short", v)))
    if isinstance(high, int):
        found.append(st.integers(1, 20).map(lambda n: (name, "too long", "x" * (high + n))))
    limits = (
        ("minimum", -1, 1),
        ("exclusiveMinimum", -1, 0),
        ("maximum", 1, 1),
        ("exclusiveMaximum", 1, 0),
    )
    for key, sign, least in limits:
        bound = schema.get(key)
        if isinstance(bound, (int, float)) and not isinstance(bound, bool):
            found.append(_beyond(name, key, bound, sign, least))
    return found


def _breaks(spec: ModelSpec) -> list[st.SearchStrategy[Broken]]:
    """Every way to break one field of a valid body that this module knows."""
    inputs = dict(spec.inputs)
    needed = _needed(spec)
    found: list[st.SearchStrategy[Broken]] = []
    for name, schema in spec.properties.items():
        if name in inputs:
            url = broken_url_field(name)
            found.append(url if name in needed else url.filter(lambda b: b[2] is not MISSING))
            continue
        if name in needed:
            found.append(st.just((name, "missing", MISSING)))
        if not isinstance(schema, Mapping):
            continue
        for made in (_wrong_types(name, schema), _outside_enum(name, schema)):
            if made is not None:
                found.append(made)
        if schema.get("type") in ("string", "number", "integer"):
            found += _out_of_range(name, schema)
    if not _open(spec):
        names = st.from_regex(r"[a-z]{3,8}_extra", fullmatch=True)
        unexpected = names.filter(lambda n: n not in spec.properties)
        found.append(unexpected.map(lambda n: (n, "not a documented field", True)))
    return found


def invalid_bodies(
    spec: ModelSpec, *, urls: URLS | None = None
) -> st.SearchStrategy[InvalidGenerate]:
    """Bodies for ``spec`` broken in exactly one way: a field missing, of the wrong type, outside
    its enum or its bounds, a media input that is not an accepted URL, an undocumented field where
    the schema forbids them, or a body that is not a JSON object (``field`` is ``"body"``)."""

    by_field = st.builds(
        broken_body, valid_bodies(spec, urls=urls, extra_fields=False), st.one_of(_breaks(spec))
    )
    return st.one_of(by_field, not_object_bodies())


__all__ = ["invalid_bodies", "valid_bodies"]
