"""docs/checker.md stays true: its rules table is the rules, its pytest example and its commands
run as written."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from haralyzer import HarParser  # type: ignore[import-untyped]

from mockgateway import config_from_mapping, serve_in_thread
from mockgateway.checker import RULES
from mockgateway.checker._run import client_env, run_client
from tests.checker_builders import preload_gateway_modules

from .checker_builders import PLUGIN
from .support import narrow_terminal

pytest_plugins = ["pytester"]

preload_gateway_modules()  # in-process pytester runs need them loaded once, up front

DOC = (Path(__file__).parent.parent / "docs" / "checker.md").read_text(encoding="utf-8")


def test_the_rules_table_lists_every_rule_as_defined() -> None:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \| (\w+) \| (.+?) \| (.+?) \|$", DOC, re.M)
    assert [(r.id, r.severity.value, r.source.value, r.statement, r.how_to_fix) for r in RULES] == [
        tuple(row) for row in rows
    ]


def test_the_pytest_example_runs_as_documented(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow_terminal(monkeypatch)
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
    result = pytester.runpytest(*PLUGIN, *options, "-ra")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ContractViolation: poll-interval: *"])
    # the short summary line the page quotes, as pytest prints it on an 80-column terminal
    summary = re.search(r"the short summary \(`-ra`\)[^`]*`(FAILED [^`]+)`", DOC)
    assert summary is not None
    assert summary.group(1) in result.outlines


HOST = "http://127.0.0.1:8080"


def test_the_documented_check_and_journal_commands_run_as_written(tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    match = re.search(r"<!-- commands: run as written [^\n]*\n```\n(.+?)```", DOC, re.S)
    assert match is not None
    commands = match.group(1).splitlines()
    root = Path(__file__).parent.parent
    (tmp_path / "tests" / "clients").mkdir(parents=True)
    shutil.copy(root / "tests" / "clients" / "client.py", tmp_path / "tests" / "clients")
    env = dict(os.environ, PYTHONPATH=str(root))

    def shell(command: str, url: str = HOST) -> subprocess.CompletedProcess[str]:
        command = command.replace(HOST, url).replace(" python ", f" {sys.executable} ")
        command = command.replace("mockgateway check", f"{sys.executable} -m mockgateway check")
        return subprocess.run(["sh", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    checked = shell(commands[0])
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines()[-1].startswith("mockgateway check: PASSED")
    assert HarParser(json.loads((tmp_path / "run.har").read_text())).version == "1.2"

    config = config_from_mapping({"clock": {"mode": "scaled", "speed": 50}})
    with serve_in_thread(config) as gw:
        client = [sys.executable, str(tmp_path / "tests" / "clients" / "client.py")]
        ran = run_client(client, client_env(gw.url, "mockgateway-check-0001", 50, os.environ),
                         timeout=60, stdout=subprocess.DEVNULL)  # fmt: skip
        assert ran.exit_code == 0
        for command in commands[1:4]:
            assert shell(command, gw.url).returncode == 0, command
    polls = json.loads((tmp_path / "polls.json").read_text())["entries"]
    assert polls
    assert {(e["route"], e["key"]) for e in polls} == {("status", "****0001")}
    har = json.loads((tmp_path / "journal.har").read_text())
    assert len(har["log"]["entries"]) > len(polls)
    judged = shell(commands[4])
    assert judged.returncode == 0, judged.stdout + judged.stderr  # 0.48 USD, within 0.50
    assert "budget: the run cost 0.48 USD, within the budget of 0.50 USD" in judged.stdout
    assert (tmp_path / "check.xml").is_file()


def test_the_exit_statuses_are_the_commands() -> None:
    """The page's exit statuses, one case each: a silent client that exits 0 is 1 (no traffic);
    one that fails before its first request is 3, the client's failure, as the page says."""
    statuses = re.search(r"\*\*Exit status\*\*: (.+?)\n\n", DOC, re.S)
    assert statuses is not None
    text = " ".join(statuses.group(1).split())
    assert "a client that exited 0 made no request to the gateway at all" in text
    assert "the client itself failed (non-zero exit, timeout, could not start" in text
    assert "even before its first request" in text
    check = [sys.executable, "-m", "mockgateway", "check", "--timeout", "60", "--"]
    quiet = [sys.executable, "-c", "pass"]
    failing = [sys.executable, "-c", "raise SystemExit(4)"]
    for client, status in ((quiet, 1), (failing, 3)):
        done = subprocess.run([*check, *client], capture_output=True, text=True, timeout=120)
        assert done.returncode == status, done.stdout + done.stderr
        assert "no-traffic" in done.stdout
