"""The generate request's shape, from the project's published JSON Schema (one source of truth).

The documented fields are the schema's properties; anything else in a body is undocumented.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from ..contract import load_schema
from ..contract import schema_errors as _schema_errors

SCHEMA = "generate-request"


@cache
def documented_fields() -> tuple[str, ...]:
    properties: Mapping[str, Any] = load_schema(SCHEMA)["properties"]
    return tuple(properties)


def schema_errors(body: Any) -> list[str]:
    """Readable reasons a body breaks the schema (``at $.field: reason``), ``[]`` if valid."""
    return _schema_errors(SCHEMA, body)


def undocumented_fields(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return []
    known = documented_fields()
    return sorted(k for k in body if k not in known)
