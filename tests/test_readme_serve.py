"""The README's serving section runs as written: its commands (only ports swapped for free ones),
its option table against the command's own options, its access-log lines and metrics table
against what the gateway prints and answers."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

import mockgateway
from mockgateway._cli import build_parser

from .support import DOC_BODY, DOC_HEADERS, GENERATE_PATH
from .test_access_log import LINE

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SECTION = README.split("## Serving", 1)[1].split("\n## ", 1)[0]
CHECK_SECTION = README.split("## Judge your client", 1)[1].split("\n## ", 1)[0]


def commands(text: str) -> list[str]:
    blocks = re.findall(r"```console\n(.*?)```", text, re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def environ() -> dict[str, str]:
    """The machine's environment, with this interpreter's ``mockgateway`` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(autouse=True)
def _the_command_is_installed() -> None:
    if shutil.which("mockgateway", path=environ()["PATH"]) is None:
        pytest.skip("the mockgateway command is not installed beside this interpreter")


class Background:
    """A documented ``mockgateway serve`` command run by the shell until stopped."""

    def __init__(self, command: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            ["bash", "-c", command],  # one simple command: bash runs it in its own place
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
            env=environ(),
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        assert first.startswith("mockgateway listening on "), first
        self.port = int(first.split()[-1].rsplit(":", 1)[1])

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, err
        return err


def shell(command: str, cwd: Path) -> str:
    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, cwd=cwd, env=environ()
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_option_table_is_the_commands_options() -> None:
    rows = re.findall(r"^\| (`-.+?`) \| (`MOCKGATEWAY_\w+`)? ?\|", SECTION, re.M)
    documented = {flag for cell, _var in rows for flag in re.findall(r"`(-[-\w]+)", cell)}
    variables = {var.strip("`") for _cell, var in rows if var}
    serve = next(
        action.choices["serve"]
        for action in build_parser()._actions
        if getattr(action, "choices", None) and "serve" in action.choices  # type: ignore[operator]
    )
    flags = {o for a in serve._actions for o in a.option_strings if o not in ("-h", "--help")}
    assert documented == flags
    assert variables == {
        "MOCKGATEWAY_HOST",
        "MOCKGATEWAY_PORT",
        "MOCKGATEWAY_CONFIG",
        "MOCKGATEWAY_OPERATOR_TOKEN",
    }


def test_the_container_command_with_its_access_log() -> None:
    [command] = [c for c in commands(SECTION) if c.startswith("MOCKGATEWAY_HOST=")]
    assert "MOCKGATEWAY_PORT=8080" in command
    served = Background(command.replace("MOCKGATEWAY_PORT=8080", "MOCKGATEWAY_PORT=0"), ROOT)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{served.port}{GENERATE_PATH}",
            data=json.dumps(DOC_BODY).encode(),
            headers={**DOC_HEADERS, "Ocp-Apim-Subscription-Key": "team-key-1"},
        )
        with contextlib.suppress(urllib.error.HTTPError):  # the scenario may answer a failure
            urllib.request.urlopen(request, timeout=30).close()
    finally:
        err = served.stop()
    [line] = [line for line in err.splitlines() if line.startswith("POST ")]
    match = LINE.fullmatch(line)
    assert match is not None, line
    assert (match["path"], match["key"]) == (GENERATE_PATH, "****ey-1")


def test_the_documented_access_log_lines_have_the_logged_form() -> None:
    [block] = re.findall(r"```text\n(POST .*?)```", SECTION, re.S)
    for line in block.splitlines():
        assert LINE.fullmatch(line), line


needs_tools = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("node") is None, reason="needs curl and node"
)


@needs_tools
def test_the_tls_commands(tmp_path: Path) -> None:
    serve, curl, node = [c for c in commands(SECTION) if "8443" in c]
    assert serve.startswith("mockgateway serve --tls")
    served = Background(serve.replace("--port 8443", "--port 0"), tmp_path)  # ca.pem lands here
    try:
        url = f"https://127.0.0.1:{served.port}"
        health = json.loads(shell(curl.replace("https://127.0.0.1:8443", url), tmp_path))
        assert health["status"] == "ok"
        assert "status: 'ok'" in shell(node.replace("https://127.0.0.1:8443", url), tmp_path)
    finally:
        served.stop()
    assert (tmp_path / "ca.pem").is_file()


@pytest.fixture(scope="module")
def gateway() -> Iterator[mockgateway.ThreadedGateway]:
    with mockgateway.serve_in_thread() as gw:
        yield gw


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_metrics_command_and_table(gateway: mockgateway.ThreadedGateway) -> None:
    [command] = [c for c in commands(SECTION) if "/_mock/metrics" in c]
    text = shell(command.replace("http://127.0.0.1:8080", gateway.url), ROOT)
    families = {f.name: f.type for f in text_string_to_metric_families(text)}
    table = dict(re.findall(r"^\| `(mockgateway_\w+)` \| (\w+) \|", SECTION, re.M))
    named = {name.removesuffix("_total"): kind for name, kind in table.items()}
    assert families == named


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_check_tls_command() -> None:
    [command] = [c for c in commands(CHECK_SECTION) if "--tls" in c]
    out = shell(command, ROOT)
    assert "mockgateway check: PASSED" in out, out
