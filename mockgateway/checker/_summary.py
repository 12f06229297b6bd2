"""The pytest run's closing section: which tests broke which rules, counted over the session.

Each test's outcome travels in its report's ``user_properties`` as one readable string (xdist
ships reports from workers to the controller, and ``--junitxml`` shows the property as is).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from ._model import Verdict

PROPERTY = "mockgateway"
_OFF = " [check off]"


def encode(verdict: Verdict, *, checked: bool) -> str:
    """``"poll-interval (error), download-output (warning)"``, ``""`` when every rule held."""
    seen = sorted({(v.rule_id, v.severity.value) for v in verdict.violations})
    text = ", ".join(f"{rule} ({severity})" for rule, severity in seen)
    return text + ("" if checked else _OFF)


def decode(value: str) -> tuple[list[tuple[str, str]], bool]:
    checked = not value.endswith(_OFF)
    body = value.removesuffix(_OFF)
    broken = []
    for part in filter(None, body.split(", ")):
        rule, _, severity = part.partition(" (")
        broken.append((rule, severity.rstrip(")")))
    return broken, checked


def summary_lines(rows: Iterable[tuple[str, str]]) -> list[str]:
    """``rows``: (test id, encoded outcome) per test that used the gateway."""
    ordered = sorted(rows)
    by_rule: Counter[tuple[str, str]] = Counter()
    lines: list[str] = []
    clean = 0
    for nodeid, value in ordered:
        broken, checked = decode(value)
        by_rule.update(broken)
        if broken:
            lines.append(f"{nodeid}: {value.removesuffix(_OFF)}{'' if checked else _OFF}")
        else:
            clean += 1
    head = f"{len(ordered)} test(s) used the gateway; {clean} kept every rule"
    tail = [f"  {rule} ({sev}): {n} test(s)" for (rule, sev), n in sorted(by_rule.items())]
    return [head, *tail, *lines]
