"""The built-in models: declarations shipped with the package, in the form a user writes.

They live in the contract's directory (``schemas/models/``, ``mockgateway/_schemas/models/`` in a
wheel) beside the request schemas they name.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ..contract import schema_dir
from ._read import read_declarations
from ._spec import ModelSpec

OMNIHUMAN_MODEL_ID = "bytedance-omnihuman-v1-5-290"
OMNIHUMAN_OPERATION = "bytedance-omnihuman-v1-5-request"


def builtin_dir() -> Path:
    return schema_dir() / "models"


@cache
def builtin_models(default_resolution: str = "1080p") -> tuple[ModelSpec, ...]:
    """Every built-in model, in file-name order; a resolution a declaration leaves without a
    default takes ``default_resolution`` (``[lifecycle] default_resolution``)."""
    found: list[ModelSpec] = []
    for path in sorted(builtin_dir().glob("*.toml")):
        found.extend(read_declarations(path, default_resolution))
    return tuple(found)
