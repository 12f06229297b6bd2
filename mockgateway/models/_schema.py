"""A model's request schema: read from its file, checked to be a usable JSON Schema, and turned
into a validator that never fetches anything."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from jsonschema.exceptions import SchemaError  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .._bodyparse import BodyError, Bounds, parse_json

MAX_SCHEMA_BYTES = 1024 * 1024
_UNBOUNDED = Bounds(max_bytes=None)


class SchemaProblem(ValueError):
    """A request schema cannot be used; the message says why (after the key it came from)."""


def read_schema_file(name: str, base_dir: Path | None) -> dict[str, Any]:
    """The JSON Schema in file ``name`` (relative to ``base_dir``, else the current directory)."""
    path = Path(name)
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        with path.open("rb") as file:
            data = file.read(MAX_SCHEMA_BYTES + 1)
    except OSError as exc:
        raise SchemaProblem(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_SCHEMA_BYTES:
        raise SchemaProblem(f"{path} is over {MAX_SCHEMA_BYTES} bytes")
    try:
        schema = parse_json(data, _UNBOUNDED, what=str(path))
    except BodyError as exc:
        raise SchemaProblem(str(exc)) from None
    if not isinstance(schema, dict):
        raise SchemaProblem(f"{path} must hold a JSON object (a JSON Schema)")
    return schema


def check_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` when it is a JSON Schema (2020-12) for a JSON object body that needs no other
    document; a :class:`SchemaProblem` otherwise."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "the top level"
        raise SchemaProblem(
            f"is not a valid JSON Schema (2020-12) at {where}: {exc.message}"
        ) from None
    _check_refs(schema)
    kind = schema.get("type", "object")
    if kind != "object":
        raise SchemaProblem(f'must describe a JSON object (type "object"), got type {kind!r}')
    return schema


_REF_KEYS = ("$ref", "$dynamicRef")
_HERE = "urn:mockgateway:request-schema"


def _refs(schema: Any) -> list[tuple[str, str]]:
    """Every reference in a schema, as (keyword, target)."""
    found: list[tuple[str, str]] = []
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.extend((k, item[k]) for k in _REF_KEYS if isinstance(item.get(k), str))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _check_refs(schema: dict[str, Any]) -> None:
    """Every reference points into the schema itself, at something there, and no chain of bare
    references goes round in a loop (each would fail every body that reaches it)."""
    refs = _refs(schema)
    if not refs:
        return
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    resolver = Registry().with_resource(_HERE, resource).resolver(base_uri=_HERE)
    for keyword, target in refs:
        if not target.startswith("#"):
            raise SchemaProblem(
                f"refers to another document ({keyword} {target!r}); put the definition inline"
            )
        seen = {target}
        node: Any = _lookup(resolver, keyword, target)
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            following = node["$ref"]
            if following in seen:
                raise SchemaProblem(f"its $ref {target!r} goes round in a loop of references")
            seen.add(following)
            node = _lookup(resolver, "$ref", following)


def _lookup(resolver: Any, keyword: str, target: str) -> Any:
    try:
        return resolver.lookup(target).contents
    except Exception:  # referencing's PointerToNowhere, NoSuchAnchor, Unresolvable...
        raise SchemaProblem(f"its {keyword} {target!r} points at nothing in the schema") from None


def value_allowed(schema: Any, value: Any) -> bool:
    """Whether one property's schema (on its own) admits ``value``."""
    if not isinstance(schema, Mapping):
        return True
    try:
        return bool(Draft202012Validator(schema, registry=Registry()).is_valid(value))
    except Exception:  # a reference into the rest of the schema: judged with the body
        return True


def validator_for(schema: Mapping[str, Any]) -> Any:
    """A validator for a request schema that never fetches anything (an empty registry)."""
    return Draft202012Validator(schema, registry=Registry())


def example_problem(schema: Mapping[str, Any]) -> str | None:
    """Why the schema's own examples do not meet it (the contract and the checker show them),
    or None when they all do."""
    examples = schema.get("examples", [])
    if not isinstance(examples, list):
        return "its examples must be an array of bodies"
    validator = validator_for(schema)
    for i, example in enumerate(examples):
        try:
            error = next(iter(validator.iter_errors(example)), None)
        except Exception as exc:  # an unresolvable local $ref, for one
            return f"cannot be applied: {exc}"
        if error is not None:
            return f"its example {i} does not meet it: {error.message}"
    return None


def numeric(schema: Any) -> bool:
    """Whether a property's schema admits only numbers (its type, or every value of its enum)."""
    if not isinstance(schema, Mapping):
        return False
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if kinds:
        return all(k in ("integer", "number") for k in kinds)
    enum = schema.get("enum")
    return (
        isinstance(enum, list)
        and bool(enum)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in enum)
    )
