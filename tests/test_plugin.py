"""The pytest plugin, run inside pytester sessions the way a user's suite would use it."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest

from tests.checker_builders import preload_gateway_modules

from .checker_builders import PLUGIN
from .support import narrow_terminal

pytest_plugins = ["pytester"]

preload_gateway_modules()  # in-process pytester runs need them loaded once, up front

ROOT = Path(__file__).parent.parent

# Fast clock, and a job long enough (12 s of processing) that a too-fast poller polls it often.
FAST_SLOW_JOB = ("--mockgateway-speed=50", "--mockgateway-config=slow-job.toml")

# A tiny client the inner test files share: submit, poll every `pace` gateway seconds, download.
CLIENT = """
import json, time, urllib.request, urllib.error

def call(method, url, headers, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()

BODY = {"image_url": "https://example.test/a.png", "audio_url": "https://example.test/a.mp3"}

def submit(gw, body=BODY):
    return call("POST", gw.generate_url, gw.headers, body)

def follow(gw, pace=5.0, download=True):
    status, raw = submit(gw)
    assert status == 202, raw
    accepted = json.loads(raw)
    key = {"Ocp-Apim-Subscription-Key": gw.api_key}
    while True:
        time.sleep(gw.real_seconds(pace))
        status, raw = call("GET", accepted["polling_url"], key)
        job = json.loads(raw)
        if job["status"] in ("COMPLETED", "FAILED", "ERROR"):
            break
    if download:
        for url in job["output"]["media_url"]:
            assert call("GET", url, {})[0] == 200
    return job
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(client_helpers=CLIENT)
    (pytester.path / "slow-job.toml").write_text("[lifecycle]\nprocessing_seconds = 12\n")
    pytester.syspathinsert()
    return pytester


def test_a_test_that_polls_too_fast_fails_naming_the_rule(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_polling="""
        from client_helpers import follow

        def test_careful(mock_gateway):
            assert follow(mock_gateway, pace=5)["status"] == "COMPLETED"

        def test_too_fast(mock_gateway):
            follow(mock_gateway, pace=1)
        """
    )
    result = suite.runpytest(*PLUGIN, *FAST_SLOW_JOB)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ContractViolation: poll-interval: *",
            "*ERROR poll-interval [[]doc]: Polls of one request come no closer than 5 s*",
            "*how to fix: Sleep at least 5 s*",
            "*= mockgateway contract checks =*",
            "2 test(s) used the gateway; 1 kept every rule",
            "*poll-interval (error): 1 test(s)",
            "test_polling.py::test_too_fast: poll-interval (error)",
        ]
    )
    assert "client_helpers.py" not in result.stdout.str()  # no plugin internals in the report


def test_the_opt_out_marker_keeps_a_violating_test_green(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_optout="""
        import pytest
        from client_helpers import follow

        @pytest.mark.mockgateway(check=False)
        def test_fast_on_purpose(mock_gateway):
            follow(mock_gateway, pace=1)

        @pytest.mark.mockgateway(disable=["poll-interval"])
        def test_rule_disabled(mock_gateway):
            follow(mock_gateway, pace=1)
        """
    )
    result = suite.runpytest(*PLUGIN, *FAST_SLOW_JOB)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*test_optout.py::test_fast_on_purpose: poll-interval (error) [[]check off]"]
    )


def test_options_and_their_ini_twins(suite: pytest.Pytester) -> None:
    suite.makeini(
        """
        [pytest]
        mockgateway_api_key = from-ini-0007
        mockgateway_speed = 40
        """
    )
    suite.makepyfile(
        test_options="""
        from client_helpers import follow

        def test_sees_options(mock_gateway):
            assert mock_gateway.api_key == "from-cli-0008"
            assert mock_gateway.speed == 40
            assert mock_gateway.url.startswith("http://127.0.0.1:")

        def test_no_download(mock_gateway):
            follow(mock_gateway, download=False)
        """
    )
    default = suite.runpytest(*PLUGIN, "--mockgateway-api-key=from-cli-0008")
    default.assert_outcomes(passed=2)  # a warning alone does not fail
    default.stdout.fnmatch_lines(["*test_no_download: download-output (warning)"])
    strict = suite.runpytest(*PLUGIN, "--mockgateway-api-key=from-cli-0008",
                             "--mockgateway-check=warning")  # fmt: skip
    strict.assert_outcomes(passed=1, failed=1)
    strict.stdout.fnmatch_lines(["*ContractViolation: download-output: *"])
    ini_key = suite.runpytest(*PLUGIN, "-k", "sees_options")
    ini_key.assert_outcomes(failed=1)
    ini_key.stdout.fnmatch_lines(["*AssertionError: assert 'from-ini-0007' == 'from-cli-0008'*"])


def test_a_bad_option_value_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_x="def test_x(mock_gateway):\n    pass\n")
    result = suite.runpytest(*PLUGIN, "--mockgateway-check=sometimes")
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*mockgateway check must be one of error, warning, off*"])


def test_config_file_option_tunes_gateway_and_rules(suite: pytest.Pytester) -> None:
    config = suite.path / "gateway.toml"
    config.write_text("[lifecycle]\nqueue_seconds = 0\n\n[checker]\nmin_poll_interval = 2\n")
    suite.makepyfile(
        test_cfg="""
        from client_helpers import follow

        def test_two_second_polls_are_fine_here(mock_gateway):
            assert mock_gateway.gateway.config.lifecycle.queue_seconds == 0
            follow(mock_gateway, pace=2)
        """
    )
    suite.runpytest(
        *PLUGIN, f"--mockgateway-config={config}", "--mockgateway-speed=50"
    ).assert_outcomes(passed=1)


def test_markers_pick_scenarios_config_and_clock(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_markers="""
        import pytest
        from client_helpers import follow, submit

        @pytest.mark.mockgateway(scenario="402")
        def test_scenario_key(mock_gateway):
            assert mock_gateway.api_key == "mock-402"

        @pytest.mark.mockgateway(config={"keys": {"accounts": [{"key": "poor-0001", "balance": "0"}]}},
                                 api_key="poor-0001")
        def test_empty_wallet_answers_402_once(mock_gateway):
            status, raw = submit(mock_gateway)
            assert status == 402

        @pytest.mark.mockgateway(config={"keys": {"accounts": [{"key": "poor-0002", "balance": "0"}]}},
                                 api_key="poor-0002")
        def test_hammering_a_402_is_caught(mock_gateway):
            for _ in range(3):
                submit(mock_gateway)

        @pytest.mark.mockgateway(clock="manual")
        def test_manual_clock(mock_gateway):
            before = mock_gateway.clock.now()
            assert mock_gateway.advance(30) == before + 30
            assert mock_gateway.real_seconds(5) == 0
        """
    )
    result = suite.runpytest(*PLUGIN, "--mockgateway-speed=50")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*ContractViolation: resubmit-after-rejection: *"])


def test_unknown_marker_argument_names_it(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.mockgateway(scenery="429")
        def test_x(mock_gateway):
            pass
        """
    )
    result = suite.runpytest(*PLUGIN)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*mockgateway marker: unknown argument(s) scenery*"])


def test_each_test_starts_from_a_reset_gateway(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_reset="""
        from client_helpers import follow

        def test_first(mock_gateway):
            follow(mock_gateway)
            assert len(mock_gateway.journal()) >= 3

        def test_second(mock_gateway):
            assert mock_gateway.journal() == []
            assert mock_gateway.gateway.store.jobs == {}
        """
    )
    suite.runpytest(*PLUGIN, "--mockgateway-speed=50").assert_outcomes(passed=2)


def test_the_plugin_costs_nothing_when_its_fixture_is_unused(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    suite.makepyfile(
        test_plain="""
        import sys, threading

        def test_nothing_loaded():
            assert "mockgateway.pytest_plugin" in sys.modules
            assert "aiohttp" not in sys.modules
            assert "mockgateway.checker" not in sys.modules
            assert not [t for t in threading.enumerate() if t.name == "mockgateway"]
        """
    )
    result = suite.runpytest_subprocess(*PLUGIN)
    result.assert_outcomes(passed=1)
    assert "mockgateway contract checks" not in result.stdout.str()


def test_each_xdist_worker_serves_its_own_gateway(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(suite.path)]))
    suite.makepyfile(
        test_workers="""
        import os, pytest
        from client_helpers import follow

        @pytest.mark.parametrize("n", range(4))
        def test_url(mock_gateway, n, tmp_path_factory):
            out = tmp_path_factory.getbasetemp().parent.parent / f"url-{n}.txt"
            out.write_text(os.environ["PYTEST_XDIST_WORKER"] + " " + mock_gateway.url)
            follow(mock_gateway, pace=1 if n == 0 else 5)
        """
    )
    result = suite.runpytest_subprocess(*PLUGIN, "-n", "2", *FAST_SLOW_JOB)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*= mockgateway contract checks =*", "4 test(s) used the gateway; 3 kept every rule"]
    )
    seen = {}
    for path in suite.path.parent.rglob("url-*.txt"):
        worker, url = path.read_text().split()
        seen.setdefault(worker, set()).add(url)
    assert len(seen) == 2
    urls = [next(iter(u)) for u in seen.values()]
    assert all(len(u) == 1 for u in seen.values())
    assert urls[0] != urls[1]


def test_a_test_failing_on_its_own_keeps_its_failure_and_is_still_summarised(
    suite: pytest.Pytester,
) -> None:
    suite.makepyfile(
        test_own_failure="""
        from client_helpers import follow

        def test_fails_itself(mock_gateway):
            follow(mock_gateway, pace=1)
            assert 1 == 2, "the test's own complaint"
        """
    )
    junit = suite.path / "junit.xml"
    result = suite.runpytest(*PLUGIN, *FAST_SLOW_JOB, f"--junitxml={junit}")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the test's own complaint",
            "1 test(s) used the gateway; 0 kept every rule",
            "test_own_failure.py::test_fails_itself: poll-interval (error)",
        ]
    )
    assert "ContractViolation" not in result.stdout.str()
    assert '<property name="mockgateway" value="poll-interval (error)"' in junit.read_text()


def test_a_wallet_top_up_through_the_fixture_counts_as_a_change(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_topup="""
        from client_helpers import submit

        def test_top_up_then_resubmit(mock_gateway):
            mock_gateway.set_balance("0")
            assert submit(mock_gateway)[0] == 402
            mock_gateway.set_balance("25.00")
            assert submit(mock_gateway)[0] == 202
            assert [e.method for e in mock_gateway.journal() if e.route == "admin"] == ["PUT", "PUT"]

        def test_resubmit_without_a_change(mock_gateway):
            mock_gateway.set_balance("0")
            assert submit(mock_gateway)[0] == 402
            assert submit(mock_gateway)[0] == 402
        """
    )
    result = suite.runpytest(*PLUGIN, "--mockgateway-speed=50")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ContractViolation: resubmit-after-rejection: *"])


def test_the_short_summary_names_the_broken_rule_and_why(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    narrow_terminal(monkeypatch)
    suite.makepyfile(
        test_short="""
        from client_helpers import follow

        def test_fast(mock_gateway):
            follow(mock_gateway, pace=1)
        """
    )
    result = suite.runpytest(*PLUGIN, *FAST_SLOW_JOB, "-ra")
    result.assert_outcomes(failed=1)
    line = next(ln for ln in result.outlines if ln.startswith("FAILED test_short.py::test_fast"))
    assert line.startswith("FAILED test_short.py::test_fast - poll-interval: ")
    assert "_errors" not in line


def test_the_summary_states_each_tests_cost_and_the_total(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_cost="""
        import pytest
        from client_helpers import follow, submit

        def test_one_job(mock_gateway):
            follow(mock_gateway)

        def test_two_jobs(mock_gateway):
            follow(mock_gateway)
            follow(mock_gateway)

        @pytest.mark.mockgateway(scenario="error")
        def test_error_is_free(mock_gateway):
            follow(mock_gateway, download=False)

        def test_no_job(mock_gateway):
            pass
        """
    )
    result = suite.runpytest(*PLUGIN, "--mockgateway-speed=50", "--junitxml=out.xml")
    result.assert_outcomes(passed=4)
    lines = result.outlines
    one = next(ln for ln in lines if ln.startswith("  test_cost.py::test_one_job: "))
    usd = Decimal(one.split(": ")[1].split(" USD")[0])
    seconds = int(one.split("USD, ")[1].split(" billed")[0])
    assert usd == Decimal("0.16") * seconds > 0
    result.stdout.fnmatch_lines(
        [
            f"cost: {usd * 3:.2f} USD in total, {seconds * 3} billed second(s) over 4 job(s)",
            "  test_cost.py::test_error_is_free: 0.00 USD, 0 billed s, 1 job(s)",
            f"  test_cost.py::test_one_job: {usd:.2f} USD, {seconds} billed s, 1 job(s)",
            f"  test_cost.py::test_two_jobs: {usd * 2:.2f} USD, {seconds * 2} billed s, 2 job(s)",
        ]
    )
    assert "test_no_job:" not in result.stdout.str()
    junit = (suite.path / "out.xml").read_text()
    assert f'name="mockgateway-cost" value="{usd:.2f} USD, {seconds} billed s, 1 job(s)"' in junit


@pytest.mark.parametrize("how", ["option", "ini"])
def test_a_run_over_budget_fails_naming_total_and_budget(suite: pytest.Pytester, how: str) -> None:
    suite.makepyfile(
        test_budget="""
        from client_helpers import follow

        def test_two_jobs(mock_gateway):
            follow(mock_gateway)
            follow(mock_gateway)
        """
    )
    args = [*PLUGIN, "--mockgateway-speed=50"]
    if how == "ini":
        suite.makeini("[pytest]\nmockgateway_budget = 0.50\n")
    else:
        args.append("--mockgateway-budget=0.50")
    result = suite.runpytest(*args)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["BUDGET EXCEEDED: the run cost *.** USD, over the budget of 0.50 USD"]
    )
    within = suite.runpytest(*PLUGIN, "--mockgateway-speed=50", "--mockgateway-budget=100")
    assert within.ret == pytest.ExitCode.OK
    within.stdout.fnmatch_lines(["budget: the run cost *.** USD, within the budget of 100.00 USD"])


def test_a_bad_budget_is_a_usage_error(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_x="def test_x(): pass")
    result = suite.runpytest(*PLUGIN, "--mockgateway-budget=plenty")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*mockgateway budget must be an amount of US dollars*"])


def test_the_budget_adds_up_every_xdist_workers_tests(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(suite.path)]))
    suite.makepyfile(
        test_spread="""
        import pytest
        from client_helpers import follow

        @pytest.mark.parametrize("n", range(2))
        def test_job(mock_gateway, n):
            follow(mock_gateway)
        """
    )
    args = ("-n", "2", "--mockgateway-speed=50", "--mockgateway-budget=0.01")
    result = suite.runpytest_subprocess(*PLUGIN, *args)
    result.assert_outcomes(passed=2)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["cost: *.** USD in total, * billed second(s) over 2 job(s)"])
    result.stdout.fnmatch_lines(["BUDGET EXCEEDED: *over the budget of 0.01 USD"])


MODELS_TOML = ROOT / "examples" / "models.toml"


def test_a_test_aims_at_a_model_and_is_judged_by_its_schema(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_models="""
        import json, time
        import pytest
        from client_helpers import BODY, call

        TTI = "acme-text-to-image-v1"

        def run(gw, body):
            status, raw = call("POST", gw.generate_url, gw.headers, body)
            if status != 202:
                return status
            accepted = json.loads(raw)
            while True:
                time.sleep(gw.real_seconds(5))
                job = json.loads(call("GET", accepted["polling_url"], gw.headers)[1])
                if job["status"] in ("COMPLETED", "FAILED", "ERROR"):
                    break
            for url in (job["output"] or {}).get("media_url", []):
                assert call("GET", url, {})[0] == 200
            return job["status"]

        def test_the_first_model_by_default(mock_gateway):
            assert mock_gateway.model.id == "bytedance-omnihuman-v1-5-290"

        @pytest.mark.mockgateway(model=TTI)
        def test_a_careful_client_of_the_image_model(mock_gateway):
            assert mock_gateway.model.id == TTI
            assert mock_gateway.generate_url == f"{mock_gateway.url}/{TTI}/v1/{TTI}-request"
            assert mock_gateway.env["MOCKGATEWAY_GENERATE_URL"] == mock_gateway.generate_url
            assert mock_gateway.env["MOCKGATEWAY_MODEL"] == TTI
            assert run(mock_gateway, {"prompt": "a lighthouse"}) in ("COMPLETED", "ERROR")

        @pytest.mark.mockgateway(model=TTI)
        def test_a_lipsync_body_sent_to_the_image_model(mock_gateway):
            assert run(mock_gateway, BODY) == 400

        @pytest.mark.mockgateway(model="acme-text-to-video-v9")
        def test_a_model_not_served(mock_gateway):
            pass
        """
    )
    result = suite.runpytest(
        *PLUGIN, f"--mockgateway-config={MODELS_TOML}", "--mockgateway-speed=50"
    )
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*mockgateway model: model 'acme-text-to-video-v9' is not declared (served: bytedance-"
            "omnihuman-v1-5-290, acme-image-to-video-v2, acme-text-to-image-v1, acme-text-to-spee"
            "ch-v1)*",
            "*ContractViolation: generate-body-schema: generate body for acme-text-to-image-v1 "
            "breaks its request schema: at $: 'prompt' is a required property",
        ]
    )
    suite.makepyfile(
        test_option="""
        def test_aimed_by_the_option(mock_gateway):
            assert mock_gateway.model.id == "acme-text-to-speech-v1"
        """
    )
    options = (f"--mockgateway-config={MODELS_TOML}", "--mockgateway-model=acme-text-to-speech-v1")
    suite.runpytest(*PLUGIN, *options, "test_option.py").assert_outcomes(passed=1)
