"""What the doc requires, and how a check reports a departure from it."""

from __future__ import annotations

import re
from typing import NoReturn

import pytest

TIMESTAMP = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$")
TIMESTAMP_EXAMPLE = "2026-03-31T10:00:15.000Z"
TIMESTAMP_FIELDS = ("created_at", "updated_at", "completed_at")
STATUSES = ("QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR")
TERMINAL = frozenset({"COMPLETED", "FAILED", "ERROR"})
# Position in the doc's flow QUEUED -> PROCESSING -> COMPLETED | FAILED | ERROR.
RANK = {"QUEUED": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "ERROR": 2}


def departure(requires: str, seen: str) -> NoReturn:
    """Fail the check, saying what the doc requires and what the gateway did."""
    pytest.fail(f"the doc requires: {requires}\nseen: {seen}", pytrace=False)


def expect(ok: bool, requires: str, seen: str) -> None:
    if not ok:
        departure(requires, seen)
