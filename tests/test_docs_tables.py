"""Every table row in README.md and docs/ belongs to a table: a row separated from its table by
a paragraph renders as a line of literal pipes, and the reader loses what it described."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))]
SEPARATOR = re.compile(r"^\|(?:\s*:?-+:?\s*\|)+\s*$")


def stray_rows(text: str) -> list[str]:
    """Rows outside fenced blocks that do not continue a table with a header and separator."""
    stray: list[str] = []
    fenced = False
    previous = ""  # the line before, outside fences
    in_table = False
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("```"):
            fenced = not fenced
            previous, in_table = "", False
            continue
        if fenced:
            continue
        if line.startswith("|"):
            if not in_table:
                following = lines[i + 1] if i + 1 < len(lines) else ""
                after_block = previous.strip() == "" or previous.rstrip().endswith("-->")
                if after_block and SEPARATOR.match(following):
                    in_table = True
                else:
                    stray.append(f"line {i + 1}: {line}")
        else:
            in_table = False
        previous = line
    return stray


@pytest.mark.parametrize("name", PAGES)
def test_every_table_row_is_inside_its_table(name: str) -> None:
    assert stray_rows((REPO / name).read_text(encoding="utf-8")) == []


def test_a_row_after_a_paragraph_is_found() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\nA paragraph.\n| 3 | 4 |\n"
    assert stray_rows(text) == ["line 6: | 3 | 4 |"]
