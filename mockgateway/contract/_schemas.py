"""Loading the contract's JSON Schemas and OpenAPI documents, from a checkout or an installed wheel.

The files live once, in the repository's ``schemas/``; the wheel force-includes that directory as
``mockgateway/_schemas``. :func:`schema_dir` finds whichever is present, so the same loader serves
both, and every schema is registered under its ``$id`` so cross-file ``$ref`` resolve offline.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from referencing import Registry
from referencing.jsonschema import DRAFT202012

SCHEMA_NAMES = (
    "apim-error",
    "gateway-error",
    "generate-accepted",
    "generate-request",
    "status",
    "webhook",
)
OPENAPI_FILE = "openapi.json"
OPERATOR_OPENAPI_FILE = "operator.openapi.json"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class SchemaNotFound(LookupError):
    """No schema directory, or no schema of that name."""


def candidate_dirs(package_dir: Path = _PACKAGE_DIR) -> tuple[Path, Path]:
    """Where the schemas may be: the installed copy first, then the checkout's ``schemas/``."""
    return (package_dir / "_schemas", package_dir.parent / "schemas")


def find_schema_dir(candidates: Iterable[Path]) -> Path:
    """The first candidate holding the OpenAPI document and every schema."""
    tried = []
    for directory in candidates:
        tried.append(str(directory))
        if (directory / OPENAPI_FILE).is_file() and all(
            (directory / file_name(name)).is_file() for name in SCHEMA_NAMES
        ):
            return directory
    raise SchemaNotFound(f"no contract schemas in any of: {', '.join(tried)}")


@cache
def schema_dir() -> Path:
    """The directory this installation reads its schemas from."""
    return find_schema_dir(candidate_dirs())


def file_name(name: str) -> str:
    """``"status"`` -> ``"status.schema.json"``; a full file name is returned as it is."""
    return name if name.endswith(".json") else f"{name}.schema.json"


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def load_schema(name: str, directory: Path | None = None) -> dict[str, Any]:
    """One schema by short name (``"status"``) or file name (``"status.schema.json"``)."""
    stem = file_name(name).removesuffix(".schema.json")
    if stem not in SCHEMA_NAMES:
        raise SchemaNotFound(f"unknown schema {name!r}; known: {', '.join(SCHEMA_NAMES)}")
    return _read((directory or schema_dir()) / file_name(name))


def load_openapi(directory: Path | None = None) -> dict[str, Any]:
    return _read((directory or schema_dir()) / OPENAPI_FILE)


def openapi_path(directory: Path | None = None) -> Path:
    """The OpenAPI document's path, for tools that take a file (Schemathesis, validators)."""
    return (directory or schema_dir()) / OPENAPI_FILE


def load_operator_openapi(directory: Path | None = None) -> dict[str, Any]:
    """The operator API's OpenAPI document (``/_mock/``), kept apart from the vendor's API."""
    return _read(operator_openapi_path(directory))


def operator_openapi_path(directory: Path | None = None) -> Path:
    """The operator API's OpenAPI document's path."""
    return (directory or schema_dir()) / OPERATOR_OPENAPI_FILE


@cache
def _registry(directory: Path) -> Registry[Any]:
    resources = []
    for name in SCHEMA_NAMES:
        contents = _read(directory / file_name(name))
        resources.append((contents["$id"], DRAFT202012.create_resource(contents)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return registry.crawl()


def registry(directory: Path | None = None) -> Registry[Any]:
    """Every schema registered under its ``$id``; nothing is ever fetched from the network."""
    return _registry(directory or schema_dir())


def schema_id(name: str, directory: Path | None = None) -> str:
    uri: str = load_schema(name, directory)["$id"]
    return uri


__all__ = [
    "OPENAPI_FILE",
    "OPERATOR_OPENAPI_FILE",
    "SCHEMA_NAMES",
    "SchemaNotFound",
    "candidate_dirs",
    "file_name",
    "find_schema_dir",
    "load_openapi",
    "load_operator_openapi",
    "load_schema",
    "openapi_path",
    "operator_openapi_path",
    "registry",
    "schema_dir",
    "schema_id",
]
