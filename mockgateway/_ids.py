"""Request ids: ``{model_id}_{uuid7}`` ([inferred] from the doc's ``..._019dxxxx-...`` example)."""

from __future__ import annotations

import os
import threading
import uuid


def uuid7(unix_seconds: float) -> uuid.UUID:
    """A version-7 UUID: 48 bits of milliseconds, then random bits (RFC 9562)."""
    return uuid.UUID(new_request_id("", unix_seconds)[1:])


_BATCH = 4096  # random bytes read from the OS at a time: ten per id
_pools = threading.local()  # each thread's own (gateways may run in several threads)


def _random_bytes() -> bytes:
    """Ten bytes from the OS's random source, read in batches (a read per id costs a call)."""
    pool: bytearray | None = getattr(_pools, "pool", None)
    if pool is None or len(pool) < 10:
        pool = _pools.pool = bytearray(os.urandom(_BATCH))
    taken = bytes(pool[-10:])
    del pool[-10:]
    return taken


def new_request_id(model_id: str, now: float) -> str:
    """``{model_id}_{uuid7}``: the UUID's text made directly from its bits (as ``str(uuid7(now))``
    gives it, without building the UUID object)."""
    ms = int(now * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(_random_bytes(), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64 | (0b10 << 62)
    h = f"{value | (rand & ((1 << 62) - 1)):032x}"
    return f"{model_id}_{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_time(uuid_text: str) -> float | None:
    """The creation time a request id's UUIDv7 carries (seconds), None if it is not one."""
    try:
        value = uuid.UUID(uuid_text)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return (value.int >> 80) / 1000
