"""The command line, run as a user runs it: a real process, a real port, real signals."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .support import DOC_BODY, GENERATE_PATH


def start(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    assert first.startswith("mockgateway listening on http://127.0.0.1:"), first
    return process, first.split()[-1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_serve_prints_its_url_first_answers_and_stops_cleanly(sig: signal.Signals) -> None:
    process, url = start()
    try:
        request = urllib.request.Request(
            url + GENERATE_PATH,
            data=json.dumps(DOC_BODY).encode(),
            headers={"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": "k-1234"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 202
            assert json.load(response)["status"] == "QUEUED"
    finally:
        process.send_signal(sig)
        out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "mockgateway stopped" in out
    assert "Traceback" not in err


def test_a_reader_that_stops_listening_does_not_stop_the_gateway() -> None:
    """``mockgateway serve | head -1``: the URL is read, the pipe is closed, the gateway serves on."""
    process, url = start()
    assert process.stdout is not None
    process.stdout.close()
    try:
        with urllib.request.urlopen(url + "/_mock/health", timeout=10) as response:
            assert json.load(response)["status"] == "ok"
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    assert "Broken pipe" not in err


def test_a_bad_config_file_stops_with_exit_2_naming_key_and_file(tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_text("[lifecycle]\nqueue_seconds = 'soon'\n")
    result = subprocess.run(
        [sys.executable, "-m", "mockgateway", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "lifecycle.queue_seconds" in result.stderr
    assert str(path) in result.stderr


def test_a_busy_port_is_a_clear_error_not_a_traceback() -> None:
    process, url = start()
    try:
        port = url.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "mockgateway", "serve", "--port", port],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 1
        assert "Traceback" not in result.stderr
        assert "address" in result.stderr.lower()
    finally:
        process.terminate()
        process.communicate(timeout=15)


def _banner(*args: str) -> list[str]:
    """What ``serve`` prints before it is stopped: its URL and endpoints."""
    process, _url = start(*args)
    try:
        assert process.stdout is not None
        lines = []
        while not (line := process.stdout.readline()).startswith("  admin:"):
            lines.append(line.rstrip("\n"))
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    return lines


def test_serve_prints_the_generate_url_of_every_model_it_serves(tmp_path: Path) -> None:
    examples = Path(__file__).parent.parent / "examples"
    lines = _banner("--config", str(examples / "models.toml"))
    generate = [ln.split()[-1].split("/", 3)[-1] for ln in lines if ln.startswith("  generate:")]
    assert generate == [
        "bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request",
        "acme-image-to-video-v2/v1/acme-image-to-video-v2-request",
        "acme-text-to-image-v1/v1/acme-text-to-image-v1-request",
        "acme-text-to-speech-v1/v1/acme-text-to-speech-v1-request",
    ]
    off = tmp_path / "off.toml"
    off.write_text(
        (examples / "models.toml").read_text().replace("models/", f"{examples}/models/")
        + '\n[[models]]\nid = "bytedance-omnihuman-v1-5-290"\nenabled = false\n'
    )
    lines = _banner("--config", str(off))
    assert [ln for ln in lines if "omnihuman" in ln] == []
    assert sum(ln.startswith("  generate:  POST ") for ln in lines) == 3
