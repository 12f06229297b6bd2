"""The API contract as data: JSON Schemas, the OpenAPI documents, and validation against them.

Hypothesis strategies for the same messages live in :mod:`mockgateway.contract.strategies`
(imported on its own, since Hypothesis is a test dependency).
"""

from ._openapi import openapi_for
from ._schemas import (
    OPERATOR_OPENAPI_FILE,
    SCHEMA_NAMES,
    SchemaNotFound,
    load_openapi,
    load_operator_openapi,
    load_schema,
    openapi_path,
    operator_openapi_path,
    registry,
    schema_dir,
)
from ._validate import (
    SchemaViolation,
    check_response,
    operation_for,
    schema_errors,
    status_body_problems,
    validate,
)

__all__ = [
    "OPERATOR_OPENAPI_FILE",
    "SCHEMA_NAMES",
    "SchemaNotFound",
    "SchemaViolation",
    "check_response",
    "load_openapi",
    "load_operator_openapi",
    "load_schema",
    "openapi_for",
    "openapi_path",
    "operation_for",
    "operator_openapi_path",
    "registry",
    "schema_dir",
    "schema_errors",
    "status_body_problems",
    "validate",
]
