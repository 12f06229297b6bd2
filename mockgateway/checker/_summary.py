"""The pytest run's closing section: which tests broke which rules, counted over the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any


def summary_lines(rows: Iterable[tuple[str, dict[str, Any]]]) -> list[str]:
    """``rows``: (test id, {"broken": [[rule, severity], ...], "checked": bool}) per test."""
    rows = sorted(rows)
    by_rule: Counter[tuple[str, str]] = Counter()
    lines: list[str] = []
    for nodeid, data in rows:
        broken: Sequence[Sequence[str]] = data.get("broken", [])
        seen = sorted({(rule, severity) for rule, severity in broken})
        by_rule.update(seen)
        if seen:
            shown = ", ".join(f"{rule} ({severity})" for rule, severity in seen)
            note = "" if data.get("checked", True) else " [check off]"
            lines.append(f"{nodeid}: {shown}{note}")
    clean = sum(1 for _, data in rows if not data.get("broken"))
    head = f"{len(rows)} test(s) used the gateway; {clean} kept every rule"
    tail = [
        f"  {rule} ({severity}): {n} test(s)" for (rule, severity), n in sorted(by_rule.items())
    ]
    return [head, *tail, *lines] if tail else [head]
