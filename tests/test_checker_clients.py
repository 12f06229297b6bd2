"""Each rule fires on its careless example client and stays silent on the careful one.

The clients are real programs (Python, Node, shell with curl) talking to a served gateway over
loopback; the clock runs fast so a 5 s poll takes a tenth of a second.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mockgateway import config_from_mapping
from mockgateway.checker import RULE_IDS, CheckerSettings, Verdict
from mockgateway.checker._run import DEFAULT_API_KEY, CheckSetup, run_check
from tests.support import memory_of

CLIENTS = Path(__file__).parent / "clients"
PY = [sys.executable, str(CLIENTS / "client.py")]
JS = ["node", str(CLIENTS / "client.js")]
SH = ["sh", str(CLIENTS / "client.sh")]
SPEED = 50.0

# These need the gateway to answer 429 or 500 on demand (scenario keys); until then the rules
# are proven on synthetic journals in test_checker_rules.py.
NEEDS_FAULTS = {"retry-after-429", "backoff-after-5xx"}
BROKE_BALANCE = {"resubmit-after-rejection"}

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def judge(command: list[str], *, empty_wallet: bool = False) -> Verdict:
    # A 12 s job, so a too-fast poller polls it several times even on a loaded machine.
    data: dict[str, object] = {"lifecycle": {"processing_seconds": 12}}
    if empty_wallet:
        data["keys"] = {"accounts": [{"key": DEFAULT_API_KEY, "balance": "0"}]}
    setup = CheckSetup(gateway=config_from_mapping(data), checker=CheckerSettings())
    verdict, _ = run_check(command, setup=setup, speed=SPEED, timeout=60)
    return verdict


def test_careful_python_client_breaks_nothing() -> None:
    verdict = judge(PY)
    assert verdict.violations == ()
    assert verdict.passed
    assert verdict.entry_count >= 3  # submit, one or more polls, the download


def test_careful_python_client_with_a_webhook_breaks_nothing() -> None:
    verdict = judge([*PY, "--webhook"])
    assert verdict.violations == ()
    assert verdict.passed


def test_careful_python_client_stops_after_a_402() -> None:
    verdict = judge(PY, empty_wallet=True)
    assert verdict.violations == ()
    assert verdict.client_run is not None
    assert verdict.client_run.exit_code == 2
    assert not verdict.passed


@pytest.mark.parametrize("rule_id", sorted(RULE_IDS - NEEDS_FAULTS))
def test_careless_python_client_breaks_exactly_its_rule(rule_id: str) -> None:
    verdict = judge([*PY, "--careless", rule_id], empty_wallet=rule_id in BROKE_BALANCE)
    assert verdict.broken_rules == (rule_id,), verdict.violations


@needs_node
def test_careful_node_client_breaks_nothing() -> None:
    verdict = judge(JS)
    assert verdict.violations == ()
    assert verdict.passed


@needs_node
@pytest.mark.parametrize(
    "rule_id",
    [
        "poll-interval",
        "key-header",
        "poll-after-terminal",
        "download-output",
        "generate-cache-control",
    ],
)
def test_careless_node_client_breaks_exactly_its_rule(rule_id: str) -> None:
    verdict = judge([*JS, "--careless", rule_id])
    assert verdict.broken_rules == (rule_id,), verdict.violations


@needs_curl
def test_careful_shell_client_breaks_nothing() -> None:
    verdict = judge(SH)
    assert verdict.violations == ()
    assert verdict.passed


@needs_curl
@pytest.mark.parametrize(
    "rule_id",
    ["poll-interval", "key-header", "generate-content-type", "generate-cache-control",
     "poll-after-terminal"],
)  # fmt: skip
def test_careless_shell_client_breaks_exactly_its_rule(rule_id: str) -> None:
    verdict = judge([*SH, rule_id])
    assert verdict.broken_rules == (rule_id,), verdict.violations


def test_a_402_set_up_through_the_admin_api_catches_a_hammering_client() -> None:
    import json
    import os
    import subprocess
    import urllib.request

    from mockgateway import serve_in_thread
    from mockgateway.checker import check
    from mockgateway.checker._run import client_env, run_client

    config = config_from_mapping({"clock": {"mode": "scaled", "speed": SPEED}})
    with serve_in_thread(config) as gw:
        put = urllib.request.Request(
            f"{gw.url}/_mock/wallets/broke-0402",
            data=json.dumps({"balance": "0"}).encode(),
            method="PUT",
        )
        with urllib.request.urlopen(put) as resp:
            assert json.load(resp)["balance"] == "0.00"
        env = client_env(gw.url, "broke-0402", SPEED, os.environ)
        for careless, expected in (
            (None, ()),
            ("resubmit-after-rejection", ("resubmit-after-rejection",)),
        ):
            gw.run(memory_of(gw.gateway).journal.clear)
            command = PY if careless is None else [*PY, "--careless", careless]
            run = run_client(command, env, timeout=60, stderr=subprocess.DEVNULL)
            assert run.exit_code == 2  # refused: no money
            entries = gw.run(lambda: list(memory_of(gw.gateway).journal))
            assert {e.status for e in entries if e.route == "generate"} == {402}
            assert check(entries).broken_rules == expected
