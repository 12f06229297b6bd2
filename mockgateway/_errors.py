"""Errors: one base class for the package, and the table of every body a client sees on the wire.

Exception tree::

    MockGatewayError
     +-- ConfigError            a configuration file or value is wrong (names key and file)
     +-- ApiError               an HTTP error answer with its documented body
    AssertionError
     +-- ContractViolation      a client or gateway broke the documented contract (pytest failure)
"""

from __future__ import annotations

from typing import Any

MISSING_KEY_MESSAGE = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)
INSUFFICIENT_BALANCE = "Insufficient Balance"
INSUFFICIENT_BALANCE_MESSAGE = "Your wallet does not have enough balance."


class MockGatewayError(Exception):
    """Base class of every error mockgateway raises on purpose."""


class ConfigError(MockGatewayError):
    def __init__(self, message: str, *, key: str | None = None, source: str | None = None) -> None:
        self.key = key
        self.source = source
        where = ""
        if key:
            where += f"key '{key}'"
        if source:
            where += (" in " if where else "") + str(source)
        super().__init__(f"{where}: {message}" if where else message)


class TlsError(MockGatewayError):
    """TLS cannot be set up: trustme is missing, or a certificate or key cannot be loaded."""


class ContractViolation(AssertionError):
    """A broken contract rule; pytest reports it as a test failure."""


class ApiError(MockGatewayError):
    """An error answer: status, JSON body and extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = headers or {}


def gateway_error(status: int, error: str, message: str, **headers: str) -> ApiError:
    """The gateway's own shape: ``{"error": ..., "message": ...}``."""
    return ApiError(status, {"error": error, "message": message}, dict(headers))


def apim_error(status: int, message: str, **headers: str) -> ApiError:
    """The API-management layer's shape: ``{"statusCode": ..., "message": ...}``."""
    return ApiError(status, {"statusCode": status, "message": message}, dict(headers))


def bad_request(message: str) -> ApiError:
    return gateway_error(400, "Bad Request", message)


def missing_key() -> ApiError:
    return apim_error(401, MISSING_KEY_MESSAGE)


def invalid_key() -> ApiError:
    return apim_error(401, INVALID_KEY_MESSAGE)


def insufficient_balance() -> ApiError:
    return gateway_error(402, INSUFFICIENT_BALANCE, INSUFFICIENT_BALANCE_MESSAGE)


def quota_exceeded(replenish_seconds: int) -> ApiError:
    h, rem = divmod(max(0, replenish_seconds), 3600)
    m, s = divmod(rem, 60)
    return apim_error(
        403, f"Out of call volume quota. Quota will be replenished in {h:02d}:{m:02d}:{s:02d}."
    )


def rate_limited(retry_after: int) -> ApiError:
    return apim_error(
        429,
        f"Rate limit is exceeded. Try again in {retry_after} seconds.",
        **{"Retry-After": str(retry_after)},
    )


def model_not_found(model_id: str) -> ApiError:
    return gateway_error(400, "Model not found", f"Model '{model_id}' not found or is disabled")


def request_not_found(request_id: str) -> ApiError:
    return gateway_error(404, "Request not found", f"Request '{request_id}' was not found")


def operator_token_required() -> ApiError:
    """The operator API's answer to a call without the operator token, when one is set."""
    return gateway_error(
        401,
        "Unauthorized",
        "The operator API needs the operator token: send Authorization: Bearer <token>",
        **{"WWW-Authenticate": 'Bearer realm="mockgateway operator"'},
    )


def internal_error(
    message: str = "An unexpected error occurred. Please try again later.",
) -> ApiError:
    return gateway_error(500, "Internal Server Error", message)


def service_unavailable(message: str = "The service is temporarily unavailable.") -> ApiError:
    return gateway_error(503, "Service Unavailable", message)
