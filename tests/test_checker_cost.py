"""What a checked run would have cost: jobs, billed seconds and exact dollars, and the budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
from decimal import Decimal
from pathlib import Path

import pytest

from mockgateway import config_from_mapping, serve_in_thread
from mockgateway.checker._run import client_env, run_client

ROOT = Path(__file__).parent.parent
PY_CLIENT = [sys.executable, str(Path(__file__).parent / "clients" / "client.py")]
FAST = ["--speed", "50", "--timeout", "60"]
PRICE = Decimal("0.16")  # the documented OmniHuman price per second


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", *args],
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )  # fmt: skip


def judged(tmp_path: Path, *args: str, api_key: str = "mockgateway-check-0001") -> dict:
    report = tmp_path / "check.json"
    run = cli(*FAST, "--api-key", api_key, "--report", str(report), *args, "--", *PY_CLIENT)
    data = json.loads(report.read_text())
    data["returncode"], data["stdout"] = run.returncode, run.stdout
    return data


def test_a_completed_job_costs_its_billed_seconds_at_the_documented_price(
    tmp_path: Path,
) -> None:
    data = judged(tmp_path)
    assert data["returncode"] == 0, data["stdout"]
    cost = data["cost"]
    assert cost["billed_seconds"] > 0
    assert cost["usd"] == f"{PRICE * cost['billed_seconds']:.2f}"
    assert (cost["jobs"], cost["charged_jobs"], cost["unfinished_jobs"]) == (1, 1, 0)
    assert cost["by_status"] == {"COMPLETED": 1}
    job = cost["per_job"][0]
    assert job["client"] == "****0001"
    assert job["status"] == "COMPLETED"
    first = next(ln for ln in data["stdout"].splitlines() if ln.startswith("mockgateway check:"))
    assert first.endswith(f"; cost {cost['usd']} USD")
    line = f"cost: {cost['usd']} USD: {cost['billed_seconds']} billed second(s), 1 of 1 job(s)"
    assert line in data["stdout"]


@pytest.mark.parametrize(
    ("api_key", "charge_failed", "status", "charged"),
    [
        ("mock-error", True, "ERROR", False),
        ("mock-failed", False, "FAILED", False),
        ("mock-failed", True, "FAILED", True),
    ],
)
def test_error_is_never_charged_and_failed_only_when_the_config_says_so(
    tmp_path: Path, api_key: str, charge_failed: bool, status: str, charged: bool
) -> None:
    config = tmp_path / "billing.toml"
    config.write_text(f"[billing]\ncharge_failed = {str(charge_failed).lower()}\n")
    cost = judged(tmp_path, "--config", str(config), api_key=api_key)["cost"]
    assert cost["by_status"] == {status: 1}
    if charged:
        assert cost["billed_seconds"] > 0
        assert cost["usd"] == f"{PRICE * cost['billed_seconds']:.2f}"
    else:
        assert (cost["usd"], cost["billed_seconds"], cost["charged_jobs"]) == ("0.00", 0, 0)


def test_over_budget_fails_the_run_naming_total_and_budget(tmp_path: Path) -> None:
    xml = tmp_path / "check.xml"
    data = judged(tmp_path, "--budget", "0.10", "--report", str(xml))
    total = data["cost"]["usd"]
    message = f"the run cost {total} USD, over the budget of 0.10 USD"
    assert data["returncode"] == 1
    assert data["passed"] is False
    assert data["budget"] == {"usd": "0.10", "over": True, "message": message}
    assert data["reasons"] == [f"over budget: {total} USD > 0.10 USD"]
    assert f"BUDGET EXCEEDED: {message}" in data["stdout"]
    cases = {c.attrib["name"]: c for c in ET.parse(xml).getroot().iter("testcase")}
    failure = cases["budget"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == message
    props = {p.attrib["name"]: p.attrib["value"] for p in ET.parse(xml).getroot().iter("property")}
    assert props["cost_usd"] == total

    within = judged(tmp_path, "--budget", "25")
    assert within["returncode"] == 0
    assert within["budget"]["over"] is False
    assert "budget: the run cost" in within["stdout"]


@pytest.mark.parametrize("bad", ["-1", "lots", "NaN"])
def test_a_bad_budget_is_a_usage_error(bad: str) -> None:
    run = cli("--budget", bad, "--", "true")
    assert run.returncode == 2
    assert "--budget:" in run.stderr


@pytest.mark.parametrize("how", ["polling", "webhook"])
def test_a_saved_journal_keeps_what_its_jobs_cost(tmp_path: Path, how: str) -> None:
    config = config_from_mapping({"clock": {"mode": "scaled", "speed": 50}})
    client = [*PY_CLIENT, "--webhook"] if how == "webhook" else PY_CLIENT
    with serve_in_thread(config) as gw:
        env = client_env(gw.url, "saved-0042", 50, os.environ)
        run = run_client(client, env, timeout=60, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)  # fmt: skip
        assert run.exit_code == 0
        with urllib.request.urlopen(f"{gw.url}/_mock/journal") as resp:
            saved = json.loads(resp.read())
    route = "webhook" if how == "webhook" else "status"
    billed = [e["billing"] for e in saved["entries"] if e.get("billing") and e["route"] == route]
    assert billed
    assert billed[-1]["status"] == "COMPLETED"
    assert billed[-1]["price_per_second"] == "0.16"
    path = tmp_path / "journal.json"
    path.write_text(json.dumps(saved))
    report = tmp_path / "r.json"
    checked = cli("--journal", str(path), "--budget", "0.01", "--report", str(report))
    assert checked.returncode == 1
    cost = json.loads(report.read_text())["cost"]
    assert cost["usd"] == billed[-1]["charged"] != "0.00"
    assert cost["billed_seconds"] == billed[-1]["billed_seconds"]
    assert "over the budget of 0.01 USD" in checked.stdout
