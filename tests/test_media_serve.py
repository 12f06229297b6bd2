"""Range parsing for media downloads (the HTTP behaviour is tested against the gateway)."""

from __future__ import annotations

import pytest

from mockgateway.media import parse_range
from mockgateway.media._serve import Unsatisfiable


@pytest.mark.parametrize(
    ("header", "span"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=10-", (10, 999)),
        ("bytes=-100", (900, 999)),
        ("bytes=-5000", (0, 999)),
        ("bytes=990-5000", (990, 999)),
        ("bytes=999-999", (999, 999)),
        (" bytes = 5-6 ", (5, 6)),
        ("BYTES=1-2", (1, 2)),
    ],
)
def test_satisfiable_ranges(header: str, span: tuple[int, int]) -> None:
    assert parse_range(header, 1000) == span


@pytest.mark.parametrize(
    "header", ["items=0-5", "bytes=0-5,10-20", "bytes=5-1", "bytes=a-b", "bytes=", "bytes=-", "x"]
)
def test_malformed_or_multiple_ranges_are_ignored(header: str) -> None:
    assert parse_range(header, 1000) is None


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_ranges_past_the_end_are_unsatisfiable(header: str) -> None:
    with pytest.raises(Unsatisfiable):
        parse_range(header, 1000)
