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


def resource_not_found() -> ApiError:
    """API management's 404 for a path it does not route ([inferred])."""
    return apim_error(404, "Resource not found")


def not_found(message: str) -> ApiError:
    """The gateway's own 404 for something at a path it routes (media, samples, operator)."""
    return gateway_error(404, "Not Found", message)


def link_expired() -> ApiError:
    return gateway_error(403, "Forbidden", "This media link has expired.")


def method_not_allowed(method: str, path: str, allowed: str) -> ApiError:
    message = f"{method} is not allowed on {path}; allowed: {allowed}"
    return gateway_error(405, "Method Not Allowed", message, Allow=allowed)


def range_not_satisfiable(size: int, range_header: str) -> ApiError:
    return gateway_error(
        416,
        "Range Not Satisfiable",
        f"The file has {size} bytes; the range {range_header!r} selects none of them.",
        **{"Content-Range": f"bytes */{size}"},
    )


def wallet_not_found(shown_key: str | None) -> ApiError:
    return gateway_error(404, "Wallet not found", f"No wallet for key '{shown_key}'")


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


# Domain errors: what the core raises. It knows no HTTP; :func:`wire_error` is the one table that
# turns each into the body and status a client sees.


class DomainError(MockGatewayError):
    """Something the gateway refuses, in the core's own terms."""

    def __init__(self, message: str = "") -> None:
        self.message = message
        super().__init__(message or type(self).__name__)


class MissingKey(DomainError):
    pass


class InvalidKey(DomainError):
    pass


class InsufficientBalance(DomainError):
    pass


class ModelNotFound(DomainError):
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(model_id)


class RequestNotFound(DomainError):
    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        super().__init__(request_id)


class MediaNotFound(DomainError):
    """No output at this address (never made, failed, or forgotten by retention)."""


class UnknownCommand(DomainError):
    pass


class Conflict(DomainError):
    """The request is valid but the state forbids it now (a job that has ended, a clock that
    is not manual)."""


class InvalidRequest(DomainError):
    """The request names something that does not exist or is not allowed (the message says
    what)."""


class RateLimited(DomainError):
    """Too many requests: try again after ``retry_after`` whole seconds."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(f"retry after {retry_after} s")


class TooManyJobs(RateLimited):
    """The key already has as many unfinished jobs as the limit allows."""


class TooManyActiveJobs(RateLimited):
    """The gateway already holds ``[lifecycle] max_active_jobs`` jobs that have not ended."""

    def __init__(self, limit: int, retry_after: int = 1) -> None:
        super().__init__(retry_after)
        self.limit = limit
        self.message = (
            f"Rate limit is exceeded: the gateway already holds {limit:,} unfinished jobs"
            f" ([lifecycle] max_active_jobs). Try again in {retry_after} seconds."
        )


class TooManyWallets(DomainError):
    """A key without a wallet would open one past ``[keys] max_wallets``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"This gateway keeps at most {limit:,} wallets ([keys] max_wallets) and has no room"
            " for a new key's wallet: reset it, or raise the bound."
        )


class Unavailable(DomainError):
    """The state is out of reach for now (the store is lost, the gateway is closing)."""


class ProcessingFailure(DomainError):
    """Work the gateway does for a request broke (a bug or a broken codec)."""


def wire_error(error: DomainError) -> ApiError:
    """The documented wire answer for a domain error: the one table the edge uses."""
    if isinstance(error, MissingKey):
        return missing_key()
    if isinstance(error, InvalidKey):
        return invalid_key()
    if isinstance(error, InsufficientBalance):
        return insufficient_balance()
    if isinstance(error, ModelNotFound):
        return model_not_found(error.model_id)
    if isinstance(error, RequestNotFound):
        return request_not_found(error.request_id)
    if isinstance(error, (MediaNotFound, UnknownCommand)):
        return not_found(error.message)
    if isinstance(error, Conflict):
        return gateway_error(409, "Conflict", error.message)
    if isinstance(error, TooManyActiveJobs):  # the documented 429, naming the bound
        wait = str(error.retry_after)
        return apim_error(429, error.message, **{"Retry-After": wait})
    if isinstance(error, RateLimited):
        return rate_limited(error.retry_after)
    if isinstance(error, InvalidRequest):
        return bad_request(error.message)
    if isinstance(error, TooManyWallets):  # API management's refusal, as its quota 403 is
        return apim_error(403, error.message)
    if isinstance(error, Unavailable):
        return service_unavailable(error.message or "The service is temporarily unavailable.")
    return internal_error()
