"""Timestamps in the doc's format: ``2026-03-31T10:00:15.000Z`` (UTC, milliseconds)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """One whole second as text: the jobs of a run share their seconds, and formatting a
    datetime is the slow part of a timestamp."""
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}"


# each millisecond's tail (".007Z"), written once: formatting it is half a timestamp's cost
_MILLIS = tuple(f".{ms:03d}Z" for ms in range(1000))


def iso_ms(t: float) -> str:
    seconds, ms = divmod(round(t * 1000), 1000)
    return _second(seconds) + _MILLIS[ms]


def parse_iso_ms(text: str) -> float:
    if not TIMESTAMP_PATTERN.match(text):
        raise ValueError(f"not a timestamp like 2026-03-31T10:00:15.000Z: {text!r}")
    moment = datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return moment.timestamp()
