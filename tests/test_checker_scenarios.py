"""Rules that need the gateway to misbehave, shown on real clients through the scenario keys.

``mock-429`` answers every request 429 with ``Retry-After``, ``mock-500`` answers 500,
``mock-reset`` resets every connection, ``mock-401`` refuses the key, ``mock-failed`` ends the
job FAILED. A careful client keeps every rule through all of them; each careless one is caught.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from mockgateway.checker import Verdict
from mockgateway.checker._run import CheckSetup, load_setup, run_check
from tests.checker_builders import preload_gateway_modules

pytest.importorskip("mockgateway.faults", reason="the scenario keys come with failure simulation")
from .checker_builders import PLUGIN

pytest_plugins = ["pytester"]
preload_gateway_modules()  # in-process pytester runs need them loaded once, up front

CLIENTS = Path(__file__).parent / "clients"
PY = [sys.executable, str(CLIENTS / "client.py")]
JS = ["node", str(CLIENTS / "client.js")]


def judge(command: list[str], key: str, speed: float = 50.0) -> Verdict:
    setup: CheckSetup = load_setup(None)
    verdict, _ = run_check(command, setup=setup, api_key=key, speed=speed, timeout=60)
    return verdict


@pytest.mark.parametrize(
    ("key", "rule_id"),
    [
        ("mock-429", "retry-after-429"),
        ("mock-500", "backoff-after-5xx"),
        ("mock-reset", "backoff-after-5xx"),
        ("mock-401", "resubmit-after-rejection"),
        ("mock-403", "resubmit-after-rejection"),
    ],
)
def test_careful_client_keeps_the_rule_and_careless_one_breaks_it(key: str, rule_id: str) -> None:
    careful = judge(PY, key)
    assert careful.violations == (), careful.violations
    assert careful.client_run is not None
    assert careful.client_run.exit_code != 0  # it could not get a video, and says so
    careless = judge([*PY, "--careless", rule_id], key)
    assert careless.broken_rules == (rule_id,), careless.violations


def test_careful_client_stops_at_failed_and_does_not_download() -> None:
    verdict, entries = run_check(PY, api_key="mock-failed", speed=50.0, timeout=60)
    assert verdict.violations == ()
    polls = [e for e in entries if e.route == "status"]
    assert polls[-1].response_body["status"] == "FAILED"
    assert not [e for e in entries if e.route == "media"]
    assert verdict.client_run is not None
    assert verdict.client_run.exit_code == 1


def test_polling_after_failed_is_caught() -> None:
    verdict = judge([*PY, "--careless", "poll-after-terminal"], "mock-failed")
    assert verdict.broken_rules == ("poll-after-terminal",)
    assert "after the client had seen it FAILED" in verdict.violations[0].message


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_client_and_retry_after() -> None:
    careful = judge(JS, "mock-429")
    assert careful.violations == ()
    assert careful.client_run is not None
    assert careful.client_run.exit_code == 1  # refused five times, then gave up
    careless = judge([*JS, "--careless", "retry-after-429"], "mock-429")
    assert careless.broken_rules == ("retry-after-429",)


def test_plugin_marker_scenario_reaches_the_gateway(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_scenario="""
        import json, time, urllib.request, urllib.error
        import pytest

        BODY = json.dumps({"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3"})

        def submit(gw):
            req = urllib.request.Request(gw.generate_url, data=BODY.encode(), headers=gw.headers)
            try:
                return urllib.request.urlopen(req).status, {}
            except urllib.error.HTTPError as err:
                return err.code, dict(err.headers)

        @pytest.mark.mockgateway(scenario="429")
        def test_honours_retry_after(mock_gateway):
            status, headers = submit(mock_gateway)
            assert status == 429
            time.sleep(mock_gateway.real_seconds(float(headers["Retry-After"])))
            assert submit(mock_gateway)[0] == 429

        @pytest.mark.mockgateway(scenario="429")
        def test_ignores_retry_after(mock_gateway):
            assert submit(mock_gateway)[0] == 429
            assert submit(mock_gateway)[0] == 429
        """
    )
    result = pytester.runpytest(*PLUGIN, "--mockgateway-speed=50")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ContractViolation: retry-after-429: *"])


def test_plugin_scenario_set_at_runtime_lasts_one_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_runtime="""
        import json, time, urllib.request, urllib.error

        BODY = json.dumps({"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3"})
        FLAKY = {"faults": [{"name": "first submit fails", "route": "generate", "nth": [1],
                             "action": "http_error", "status": 500}]}

        def submit(gw):
            req = urllib.request.Request(gw.generate_url, data=BODY.encode(), headers=gw.headers)
            try:
                return urllib.request.urlopen(req).status
            except urllib.error.HTTPError as err:
                return err.code

        def test_retries_at_once(mock_gateway):
            mock_gateway.set_scenario(FLAKY)
            assert submit(mock_gateway) == 500
            assert submit(mock_gateway) == 202

        def test_backs_off(mock_gateway):
            mock_gateway.set_scenario(FLAKY)
            assert submit(mock_gateway) == 500
            time.sleep(mock_gateway.real_seconds(1.5))
            assert submit(mock_gateway) == 202

        def test_next_test_has_no_scenario(mock_gateway):
            assert submit(mock_gateway) == 202
        """
    )
    result = pytester.runpytest(*PLUGIN, "--mockgateway-speed=50")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ContractViolation: backoff-after-5xx: *",
            "*first retry came * s after a 500; it should have waited at least 1.000 s",
        ]
    )


def test_plugin_scenario_errors_name_the_key(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_bad_scenario="""
        import pytest
        from mockgateway import MockGatewayError

        def test_bad(mock_gateway):
            with pytest.raises(MockGatewayError, match="faults.0..status"):
                mock_gateway.set_scenario({"faults": [{"action": "http_error", "status": 418}]})
        """
    )
    result = pytester.runpytest(*PLUGIN)
    result.assert_outcomes(passed=1)
