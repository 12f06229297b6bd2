"""docs/checker.md stays true: its rules table is the rules, and its pytest example runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockgateway.checker import RULES
from tests.checker_builders import preload_gateway_modules

from .checker_builders import PLUGIN

pytest_plugins = ["pytester"]

preload_gateway_modules()  # in-process pytester runs need them loaded once, up front

DOC = (Path(__file__).parent.parent / "docs" / "checker.md").read_text(encoding="utf-8")


def test_the_rules_table_lists_every_rule_as_defined() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (\w+) \| (.+?) \| (.+?) \|$", DOC, re.M)
    assert [(r.id, r.severity.value, r.source.value, r.statement, r.how_to_fix) for r in RULES] == [
        tuple(row) for row in rows
    ]


def test_the_pytest_example_runs_as_documented(pytester: pytest.Pytester) -> None:
    match = re.search(r"<!-- example: pytest -->\n```python\n(.+?)```", DOC, re.S)
    assert match is not None
    pytester.makepyfile(test_example=match.group(1))
    # a 12 s job, so the too-fast poller polls it several times even on a loaded machine
    (pytester.path / "slow-job.toml").write_text("[lifecycle]\nprocessing_seconds = 12\n")
    options = ("--mockgateway-speed=50", "--mockgateway-config=slow-job.toml")
    result = pytester.runpytest(*PLUGIN, *options)
    result.assert_outcomes(passed=2)
    without_opt_out = match.group(1).replace("@pytest.mark.mockgateway(check=False)", "")
    pytester.makepyfile(test_example=without_opt_out)
    result = pytester.runpytest(*PLUGIN, *options)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ContractViolation: poll-interval: *"])
