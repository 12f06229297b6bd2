"""The README's examples run as written (host swapped for a live gateway), so the page cannot rot."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mockgateway
from mockgateway import ThreadedGateway

README = Path(__file__).resolve().parents[1] / "README.md"
HOST = "http://127.0.0.1:8080"


def snippet(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), re.S)
    assert blocks, f"README has no {language} block"
    return blocks[0]


@pytest.fixture(scope="module")
def gateway() -> Iterator[ThreadedGateway]:
    config = mockgateway.config_from_mapping({"clock": {"mode": "scaled", "speed": 20}})
    with mockgateway.serve_in_thread(config) as gw:
        yield gw


def run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def check_202(output: str, gateway: ThreadedGateway) -> None:
    match = re.search(r"bytedance-omnihuman-v1-5-290_[0-9a-f-]{36}", output)
    assert match, output
    assert "QUEUED" in output
    assert f"{gateway.url}/v2/requests/status/{match.group(0)}" in output


def test_curl_example(gateway: ThreadedGateway) -> None:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    out = run(["bash", "-c", snippet("sh").replace(HOST, gateway.url)])
    body = json.loads(out)
    assert body["status"] == "QUEUED"
    check_202(out, gateway)


def test_python_requests_example(gateway: ThreadedGateway) -> None:
    pytest.importorskip("requests")
    out = run([sys.executable, "-c", snippet("python").replace(HOST, gateway.url)])
    check_202(out, gateway)


def test_javascript_fetch_example(gateway: ThreadedGateway) -> None:
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    out = run(["node", "-e", snippet("javascript").replace(HOST, gateway.url)])
    check_202(out, gateway)


def test_polling_reaches_completed(gateway: ThreadedGateway) -> None:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    created = json.loads(run(["bash", "-c", snippet("sh").replace(HOST, gateway.url)]))
    poll = re.findall(r"```sh\n(.*?)```", README.read_text(), re.S)[1]
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = run(["bash", "-c", poll.replace("$POLLING_URL", created["polling_url"])])
        status = json.loads(out)
        if not seen or seen[-1] != status["status"]:
            seen.append(status["status"])
        if status["status"] == "COMPLETED":
            break
        time.sleep(0.02)  # real time: the gateway runs 20x fast in its own thread
    assert seen[-1] == "COMPLETED"
    assert seen == [s for s in ["QUEUED", "PROCESSING", "COMPLETED"] if s in seen]
    assert status["output"]["media_type"] == "video/mp4"


def test_configuration_example_loads() -> None:
    import tomllib

    config = mockgateway.config_from_mapping(tomllib.loads(snippet("toml")), "README.md")
    assert config.keys.accounts[0].key == "team-key-1"
    assert config.server.port == 8080


def _in_process_blocks() -> list[str]:
    text = README.read_text()
    section = text[
        text.index("## In-process use\n") : text.index(
            "\n## ", text.index("## In-process use\n") + 1
        )
    ]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 2, blocks
    return blocks


def test_in_process_async_example_runs_as_a_script(tmp_path: Path) -> None:
    script = tmp_path / "in_process.py"
    script.write_text(_in_process_blocks()[0])
    out = run([sys.executable, str(script)])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+\n", out), out


def test_in_process_sync_example_passes_under_plain_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_in_process.py").write_text(_in_process_blocks()[1])
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_in_process.py"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
