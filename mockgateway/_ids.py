"""Request ids: ``{model_id}_{uuid7}`` ([inferred] from the doc's ``..._019dxxxx-...`` example)."""

from __future__ import annotations

import os
import uuid


def uuid7(unix_seconds: float) -> uuid.UUID:
    """A version-7 UUID: 48 bits of milliseconds, then random bits (RFC 9562)."""
    ms = int(unix_seconds * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms << 80)
        | (0x7 << 76)
        | ((rand >> 64) & 0xFFF) << 64
        | (0b10 << 62)
        | (rand & ((1 << 62) - 1))
    )
    return uuid.UUID(int=value)


def new_request_id(model_id: str, now: float) -> str:
    return f"{model_id}_{uuid7(now)}"


def request_time(uuid_text: str) -> float | None:
    """The creation time a request id's UUIDv7 carries (seconds), None if it is not one."""
    try:
        value = uuid.UUID(uuid_text)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return (value.int >> 80) / 1000
