"""The serve commands the README's quick start and docs/scenarios.md give run as written: only the
port is moved, through ``MOCKGATEWAY_PORT`` (which the command reads), to a free one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _first_command(page: str, start: str) -> str:
    text = (ROOT / page).read_text()
    for block in re.findall(r"```\w*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith(start):
                return line
    raise AssertionError(f"{page} has no command starting {start!r}")


def _serve_as_written(command: str, *, timeout: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["MOCKGATEWAY_PORT"] = "0"
    process = subprocess.Popen(
        ["bash", "-c", command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("mockgateway listening on http://127.0.0.1:"), first
        url = first.split()[-1]
        with urllib.request.urlopen(f"{url}/_mock/health", timeout=timeout) as answer:
            assert answer.status == 200
            assert json.loads(answer.read())["status"] == "ok"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        _out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err


def test_the_quick_starts_serve_script_starts_the_gateway_with_its_defaults() -> None:
    command = _first_command("README.md", "scripts/serve").split("#", 1)[0].strip()
    assert command == "scripts/serve"
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("scripts/serve installs into .venv; this run has none")
    _serve_as_written(command, timeout=10)


def test_the_scenario_pages_serve_command_runs_as_written() -> None:
    command = _first_command("docs/scenarios.md", "mockgateway serve --config")
    assert command == "mockgateway serve --config examples/scenario.toml"
    _serve_as_written(command, timeout=10)
