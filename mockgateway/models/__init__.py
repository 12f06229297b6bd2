"""Models as data: every model the gateway serves is a declaration (``[[models]]`` in TOML) with
its request schema, media inputs, output kind, length, resolution, price and limits.

The built-in OmniHuman v1.5 is one such declaration, shipped in ``schemas/models/``; a user's
configuration adds others without any code.
"""

from ._builtin import OMNIHUMAN_MODEL_ID, OMNIHUMAN_OPERATION, builtin_dir, builtin_models
from ._read import KEYS, read_declarations, read_models
from ._request import GenerateRequest, parse_request, spec_validator
from ._schema import SchemaProblem, check_schema, validator_for
from ._spec import (
    MAX_OUTPUT_SECONDS,
    MIN_OUTPUT_SECONDS,
    RESOLUTION_NAMES,
    FieldRule,
    LengthRule,
    ModelSpec,
    Per,
)

__all__ = [
    "KEYS",
    "MAX_OUTPUT_SECONDS",
    "MIN_OUTPUT_SECONDS",
    "OMNIHUMAN_MODEL_ID",
    "OMNIHUMAN_OPERATION",
    "RESOLUTION_NAMES",
    "FieldRule",
    "GenerateRequest",
    "LengthRule",
    "ModelSpec",
    "Per",
    "SchemaProblem",
    "builtin_dir",
    "builtin_models",
    "check_schema",
    "parse_request",
    "read_declarations",
    "read_models",
    "spec_validator",
    "validator_for",
]
