"""``mockgateway check --upstream URL -- CMD``: the checker's rules judge a client that talks to
an upstream gateway through the proxy, as they judge it against a local one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mockgateway.proxy import load_recordings
from tests.proxy_support import ROOT, free_port, upstream

# real time: the client is judged on the proxy's clock, as against the real service
REAL_TIME_UPSTREAM = """
[lifecycle]
queue_seconds = 1.0
processing_seconds = 2.0
[media]
mode = "sample"
"""
QUICK_UPSTREAM = """
[lifecycle]
queue_seconds = 0.2
processing_seconds = 0.3
[media]
mode = "sample"
"""


def _check(
    url: str, *client: str, options: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--upstream", url, "--allow-billable",
         "--api-key", "team-secret-key-7788", "--timeout", "60", *options, "--",
         sys.executable, "tests/clients/client.py", *client],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_check_upstream_catches_a_careless_client(tmp_path: Path) -> None:
    with upstream(tmp_path, REAL_TIME_UPSTREAM) as up:
        result = _check(up.url, "--careless", "poll-interval")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "mockgateway check: FAILED" in result.stdout
    assert "why: broken: poll-interval" in result.stdout
    assert "cost: 0.48 USD: 3 billed second(s), 1 of 1 job(s) charged" in result.stdout
    assert "upstream spend: 0.48 USD for 1 job(s)" in result.stderr
    assert "team-secret-key-7788" not in result.stdout + result.stderr


def test_check_upstream_passes_a_careful_client(tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    with upstream(tmp_path, QUICK_UPSTREAM) as up:
        result = _check(up.url, options=("--report", str(har)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mockgateway check: PASSED" in result.stdout, result.stdout
    recording = json.loads(har.read_text())  # a recording calibrate reads
    (job,) = recording["log"]["_jobs"]
    assert job["transitions"][-1]["status"] == "COMPLETED"
    (sample,) = load_recordings([recording]).jobs
    assert (sample.status, sample.output_seconds) == ("COMPLETED", 3.0)


def test_check_upstream_relays_the_clients_webhook(tmp_path: Path) -> None:
    port = free_port()
    relay = ("--proxy-port", str(port), "--webhook-base-url", f"http://127.0.0.1:{port}")
    with upstream(tmp_path, QUICK_UPSTREAM) as up:
        result = _check(up.url, "--webhook", options=relay)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mockgateway check: PASSED" in result.stdout
    assert "webhook-receiver-2xx" in result.stdout.split("rules that held:")[1]
    with upstream(tmp_path, QUICK_UPSTREAM) as up:
        careless = _check(up.url, "--webhook", "--careless", "webhook-receiver-2xx", options=relay)
    assert careless.returncode == 1, careless.stdout + careless.stderr
    assert "why: broken: webhook-receiver-2xx" in careless.stdout


def test_check_upstreams_recording_keeps_every_exchange_past_the_journals_cap(
    tmp_path: Path,
) -> None:
    har = tmp_path / "run.har"
    config = tmp_path / "check.toml"
    config.write_text("[journal]\nmax_entries = 2\n")
    with upstream(tmp_path, QUICK_UPSTREAM) as up:
        result = _check(up.url, options=("--config", str(config), "--report", str(har)))
    log = json.loads(har.read_text())["log"]
    routes = [e["_route"] for e in log["entries"]]
    assert len(routes) > 2, result.stdout + result.stderr
    assert routes[0] == "generate"
    assert {"generate", "status", "media"} <= set(routes)
    assert log["_dropped"] == 0
    (job,) = log["_jobs"]
    assert job["transitions"][-1]["status"] == "COMPLETED"
    assert not (tmp_path / "run.har.part").exists()
