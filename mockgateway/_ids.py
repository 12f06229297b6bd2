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


def _random_tails() -> list[str]:
    """A batch of ids' random tails, written out: ``7xxx-Vxxx-xxxxxxxxxxxx`` (the version digit,
    then 74 random bits around the variant ``V``), from the OS's random source read at once (a
    read per id costs a call)."""
    text = os.urandom(_BATCH).hex()
    return [
        f"7{r[:3]}-{_VARIANT[int(r[3], 16) & 3]}{r[4:7]}-{r[7:19]}"
        for r in (text[i : i + 20] for i in range(0, len(text), 20))
    ]


_MS_MASK = 0xFFFFFFFFFFFF  # a version-7 UUID's 48 bits of milliseconds
# the last millisecond written out (ids share it often); threads racing on it each write a pair
# that is whole, so one may only write it again
_last_ms: tuple[int, str] = (-1, "")


def new_request_id(model_id: str, now: float) -> str:
    """``{model_id}_{uuid7}``: the UUID's text written directly (as ``str(uuid7(now))`` gives
    it, without building the UUID object): 48 bits of milliseconds, the version, 74 random bits
    around the variant."""
    global _last_ms
    ms = int(now * 1000) & _MS_MASK
    seen, written = _last_ms
    if ms != seen:
        written = f"{ms >> 16:08x}-{ms & 0xFFFF:04x}"
        _last_ms = (ms, written)
    pool: list[str] | None = getattr(_pools, "pool", None)
    if not pool:
        pool = _pools.pool = _random_tails()
    return f"{model_id}_{written}-{pool.pop()}"


def request_time(uuid_text: str) -> float | None:
    """The creation time a request id's UUIDv7 carries (seconds), None if it is not one."""
    try:
        value = uuid.UUID(uuid_text)
    except ValueError:
        return None
    if value.version != 7:
        return None
    return (value.int >> 80) / 1000
