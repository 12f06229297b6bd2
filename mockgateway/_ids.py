"""Request ids: ``{model_id}_{uuid7}`` ([inferred] from the doc's ``..._019dxxxx-...`` example)."""

from __future__ import annotations

import os
import threading
import uuid


def uuid7(unix_seconds: float) -> uuid.UUID:
    """A version-7 UUID: 48 bits of milliseconds, then random bits (RFC 9562)."""
    return uuid.UUID(new_request_id("", unix_seconds)[1:])


_BATCH = 4090  # random bytes read from the OS at a time: ten per id, 409 ids
_VARIANT = "89ab"  # the RFC 9562 variant (binary 10) and one random bit, as the nibble's digit
_pools = threading.local()  # each thread's own (gateways may run in several threads)


def _random_hex() -> str:
    """Twenty random hex digits (80 bits; an id uses 74), from the OS's random source read in
    batches (a read per id costs a call)."""
    pool: list[str] | None = getattr(_pools, "pool", None)
    if not pool:
        text = os.urandom(_BATCH).hex()
        pool = _pools.pool = [text[i : i + 20] for i in range(0, len(text), 20)]
    return pool.pop()


def new_request_id(model_id: str, now: float) -> str:
    """``{model_id}_{uuid7}``: the UUID's text written directly (as ``str(uuid7(now))`` gives
    it, without building the UUID object): 48 bits of milliseconds, the version, 74 random bits
    around the variant."""
    ms = f"{int(now * 1000) & 0xFFFFFFFFFFFF:012x}"
    r = _random_hex()
    variant = _VARIANT[int(r[3], 16) & 3]
    return f"{model_id}_{ms[:8]}-{ms[8:]}-7{r[:3]}-{variant}{r[4:7]}-{r[7:19]}"


def request_time(uuid_text: str) -> float | None:
    """The creation time a request id's UUIDv7 carries (seconds), None if it is not one."""
    try:
        value = uuid.UUID(uuid_text)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return (value.int >> 80) / 1000
