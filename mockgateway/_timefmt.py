"""Timestamps in the doc's format: ``2026-03-31T10:00:15.000Z`` (UTC, milliseconds)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def iso_ms(t: float) -> str:
    ms = round(t * 1000)
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> float:
    if not TIMESTAMP_PATTERN.match(text):
        raise ValueError(f"not a timestamp like 2026-03-31T10:00:15.000Z: {text!r}")
    moment = datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return moment.timestamp()
