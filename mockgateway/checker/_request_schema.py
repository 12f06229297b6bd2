"""The generate request's shape, to judge a client's bodies.

The checker prefers the project's published JSON Schema (``mockgateway.contract``) and falls
back to this copy of the documented fields when the contract package is not available.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jsonschema  # type: ignore[import-untyped]

DOCUMENTED_FIELDS = ("image_url", "audio_url", "resolution")

FALLBACK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Generate request (documented fields)",
    "type": "object",
    "required": ["image_url", "audio_url"],
    "properties": {
        "image_url": {"type": "string", "minLength": 1},
        "audio_url": {"type": "string", "minLength": 1},
        "resolution": {"type": "string", "enum": ["720p", "1080p", "480p"]},
    },
}


@cache
def request_schema() -> Mapping[str, Any]:
    try:
        from mockgateway import contract

        loaded: Mapping[str, Any] = contract.load_schema("generate-request")
        return loaded
    except (ImportError, AttributeError, LookupError, OSError, ValueError):
        return FALLBACK_SCHEMA


@cache
def _validator() -> Any:
    return jsonschema.Draft202012Validator(request_schema())


def schema_errors(body: Any) -> list[str]:
    """Readable reasons a body breaks the schema, ``[]`` when it is valid."""
    validator = _validator()
    out: list[str] = []
    for err in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in err.absolute_path) or "body"
        out.append(f"{where}: {err.message}")
    return out


def undocumented_fields(body: Any) -> list[str]:
    if not isinstance(body, Mapping):
        return []
    return sorted(k for k in body if k not in DOCUMENTED_FIELDS)
