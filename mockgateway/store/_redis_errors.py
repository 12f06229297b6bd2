"""What a Redis error means to the gateway.

Redis out of reach, or refusing writes for a while, is a :class:`StoreUnavailable`: the request
answers 503 and the gateway tries again until Redis serves again. Redis refuses writes when it is
full (``OOM``: ``maxmemory`` reached under the ``noeviction`` policy), read-only (``READONLY``: a
replica, for instance a primary demoted by a failover), unable to save its snapshot (``MISCONF``:
``stop-writes-on-bgsave-error``), short of replicas (``NOREPLICAS``: ``min-replicas-to-write``),
busy with a long script (``BUSY``), or refusing a transaction for one of those (``EXECABORT``).
Any other error is a bug, raised as itself.
"""

from __future__ import annotations

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (
    ExecAbortError,
    MasterDownError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    TryAgainError,
    WatchError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

from ._types import StoreUnavailable

UNREACHABLE = (RedisConnectionError, RedisTimeoutError, OSError)

# redis-py turns these codes into their own classes and strips the code from the message
_REFUSAL_CLASSES: dict[type[ResponseError], str] = {
    OutOfMemoryError: "OOM",
    ReadOnlyError: "READONLY",
    ExecAbortError: "EXECABORT",
    TryAgainError: "TRYAGAIN",
    MasterDownError: "MASTERDOWN",
}
# ... and leaves these in the message of a plain ResponseError
_REFUSAL_CODES = ("MISCONF ", "NOREPLICAS ", "BUSY ")
# what a discarded transaction can have met, as Redis words it
_CAUSES = tuple(f"{code} " for code in _REFUSAL_CLASSES.values()) + _REFUSAL_CODES


def refusal(error: BaseException) -> str | None:
    """The Redis error code when ``error`` is Redis refusing writes for a while, else None."""
    for kind, code in _REFUSAL_CLASSES.items():
        if isinstance(error, kind):
            return code
    if type(error) is ResponseError and str(error).startswith(_REFUSAL_CODES):
        return str(error).split(" ", 1)[0]
    return None


def unavailable(error: BaseException) -> StoreUnavailable | None:
    """The :class:`StoreUnavailable` that ``error`` stands for, or None for a bug."""
    if isinstance(error, WatchError):
        return StoreUnavailable("the store's step lock lapsed before the step ended")
    if isinstance(error, UNREACHABLE):
        return StoreUnavailable(f"Redis is unreachable: {error}")
    code = refusal(error)
    if code is None:
        return None
    return StoreUnavailable(f"Redis refuses writes for now: {with_code(error, code)}")


_DISCARDED = "because of: "  # an EXECABORT's text before the refusal that discarded it


def with_code(error: BaseException, code: str) -> str:
    """The error as Redis said it, its code first (redis-py strips the codes it knows). A
    transaction discarded for a refusal (``EXECABORT ... because of: OOM ...``) is told as that
    refusal: which of the two redis-py raises for a full Redis differs between its versions."""
    text = str(error)
    if code == "EXECABORT" and _DISCARDED in text:
        cause = text.split(_DISCARDED, 1)[1]
        if cause.startswith(_CAUSES):
            return cause
    return text if text.startswith(code) else f"{code} {text}"


__all__ = ["UNREACHABLE", "refusal", "unavailable", "with_code"]
