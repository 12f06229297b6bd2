"""The quick schema check never says yes where the full JSON Schema validator says no, and it does
say yes to the bodies it is there for (so generate requests skip the full validator)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from mockgateway.models import builtin_models
from mockgateway.models._quick import quick_check

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-20, 20),
    st.floats(-20, 20, allow_nan=False),
    st.sampled_from([0.0, 1.0, 5.0, -0.0]),
    st.text(max_size=6),
    st.sampled_from(["720p", "a", "", "https://x.test/i.png", "5"]),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=2),
    st.dictionaries(st.text(max_size=2), SCALARS, max_size=2),
)
TYPES = st.sampled_from(["string", "integer", "number", "boolean", "null", "array", "object"])


@st.composite
def property_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    if draw(st.booleans()):
        schema["type"] = draw(st.one_of(TYPES, st.lists(TYPES, min_size=1, max_size=3)))
    if draw(st.booleans()):
        schema["enum"] = draw(st.lists(SCALARS, min_size=1, max_size=4))
    if draw(st.integers(0, 5)) == 0:
        schema["const"] = draw(SCALARS)
    for key in ("minLength", "maxLength"):
        if draw(st.integers(0, 3)) == 0:
            schema[key] = draw(st.integers(0, 4))
    if draw(st.integers(0, 3)) == 0:
        schema["pattern"] = draw(st.sampled_from(["^a", "p$", "[0-9]", "^https?://"]))
    for key in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if draw(st.integers(0, 3)) == 0:
            schema[key] = draw(st.one_of(st.integers(-10, 10), st.floats(-10, 10)))
    return schema


NAMES = st.sampled_from(["a", "b", "prompt", "duration"])


@st.composite
def object_schemas(draw: st.DrawFn) -> dict[str, Any]:
    properties = draw(st.dictionaries(NAMES, property_schemas(), max_size=3))
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    schema["required"] = draw(st.lists(NAMES, unique=True, max_size=2))
    if draw(st.booleans()):
        schema["additionalProperties"] = draw(st.booleans())
    return schema


@settings(max_examples=400, deadline=None)
@given(object_schemas(), st.dictionaries(NAMES | st.text(max_size=2), VALUES, max_size=4))
def test_a_quick_yes_is_always_a_full_yes(schema: dict[str, Any], body: dict[str, Any]) -> None:
    check = quick_check(schema)
    assert check is not None  # every schema drawn here is in the quick subset
    full = Draft202012Validator(schema).is_valid(body)
    assert check(body) == full, (schema, body)


def test_schemas_beyond_the_subset_are_left_to_the_full_validator() -> None:
    assert quick_check({"type": "object", "properties": {"a": {"$ref": "#/$defs/a"}}}) is None
    assert quick_check({"type": "object", "anyOf": [{"required": ["a"]}]}) is None
    assert quick_check({"type": "object", "additionalProperties": {"type": "string"}}) is None
    assert quick_check({"type": "object", "properties": {"a": {"format": "uri"}}}) is None


def test_omnihumans_schema_is_quick() -> None:
    check = quick_check(builtin_models()[0].request_schema)
    assert check is not None
    body = {"image_url": "https://a.test/i.png", "audio_url": "data:audio/wav;base64,AA"}
    assert check(body)
    assert not check({**body, "resolution": "4k"})
    assert not check({"image_url": "https://a.test/i.png"})
