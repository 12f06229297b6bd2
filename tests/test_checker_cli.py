"""``mockgateway check``: run a client, print the verdict, exit by it, write reports; judge saved journals."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from mockgateway import config_from_mapping, serve_in_thread
from mockgateway._cli import main
from mockgateway._config import load_config
from mockgateway.checker._run import client_env, run_client
from tests.checker_builders import assert_junit_shape

ROOT = Path(__file__).parent.parent
CLIENTS = Path(__file__).parent / "clients"
PY_CLIENT = [sys.executable, str(CLIENTS / "client.py")]
FAST = ["--speed", "50", "--timeout", "60"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", *args],
        capture_output=True, text=True, env=env, timeout=120, cwd=ROOT,
    )  # fmt: skip


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_check_passes_the_careful_node_client_and_fails_a_careless_one(tmp_path: Path) -> None:
    good = cli(*FAST, "--", "node", str(CLIENTS / "client.js"))
    assert good.returncode == 0, good.stdout + good.stderr
    assert "mockgateway check: PASSED" in good.stdout
    assert "client: the client exited with status 0" in good.stdout

    slow_job = tmp_path / "slow-job.toml"
    slow_job.write_text("[lifecycle]\nprocessing_seconds = 12\n")
    bad = cli(*FAST, "--config", str(slow_job), "--", "node", str(CLIENTS / "client.js"),
              "--careless", "poll-interval")  # fmt: skip
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "mockgateway check: FAILED: 1 error(s)" in bad.stdout
    assert "ERROR poll-interval [doc]" in bad.stdout
    assert "/v2/requests/status/" in bad.stdout
    assert "how to fix: Sleep at least 5 s between status polls" in bad.stdout


def test_reports_are_written_as_junit_and_json(tmp_path: Path) -> None:
    xml, js = tmp_path / "check.xml", tmp_path / "check.json"
    code = main(["check", *FAST, "--report", str(xml), "--report", str(js), "-q", "--",
                 *PY_CLIENT, "--careless", "poll-after-terminal"])  # fmt: skip
    assert code == 1
    root = assert_junit_shape(xml.read_text())
    failed = [c.attrib["name"] for c in root.iter("testcase") if c.find("failure") is not None]
    assert failed == ["poll-after-terminal"]
    data = json.loads(js.read_text())
    assert data["summary"]["broken_rules"] == ["poll-after-terminal"]
    assert data["client_run"]["exit_code"] == 0


def test_the_client_failing_is_reported_apart_from_the_rules(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["check", "--", sys.executable, "-c", "import sys; sys.exit(5)"])
    out = capsys.readouterr().out
    assert code == 3
    assert "mockgateway check: FAILED: 0 error(s)" in out
    assert "CLIENT FAILED: the client exited with status 5" in out


def test_a_client_that_cannot_start_or_hangs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--", str(CLIENTS / "no-such-client")]) == 3
    assert "CLIENT FAILED: the client could not be started" in capsys.readouterr().out
    hang = [sys.executable, "-c", "import time; time.sleep(60)"]
    assert main(["check", "--timeout", "0.5", "--", *hang]) == 3
    assert "did not finish within" in capsys.readouterr().out


def test_the_client_sees_url_key_and_speed(tmp_path: Path) -> None:
    out = tmp_path / "env.json"
    script = (
        "import json, os, sys; json.dump({k: os.environ[k] for k in "
        "('MOCKGATEWAY_URL', 'MOCKGATEWAY_API_KEY', 'MOCKGATEWAY_SPEED')}, open(sys.argv[1], 'w'))"
    )
    code = main(["check", "--speed", "20", "--api-key", "mine-1234", "--", sys.executable, "-c",
                 script, str(out)])  # fmt: skip
    assert code == 1  # it reads its environment and never calls the gateway: no traffic
    seen = json.loads(out.read_text())
    assert seen["MOCKGATEWAY_URL"].startswith("http://127.0.0.1:")
    assert seen["MOCKGATEWAY_API_KEY"] == "mine-1234"
    assert seen["MOCKGATEWAY_SPEED"] == "20"


def test_a_saved_journal_from_the_admin_api_is_judged_without_running(tmp_path: Path) -> None:
    config = config_from_mapping({"clock": {"mode": "scaled", "speed": 50}})
    with serve_in_thread(config) as gw:
        env = client_env(gw.url, "saved-0042", 50, os.environ)
        run = run_client([*PY_CLIENT, "--careless", "download-output"], env, timeout=60,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        assert run.exit_code == 0
        with urllib.request.urlopen(f"{gw.url}/_mock/journal") as resp:
            saved = resp.read()
    path = tmp_path / "journal.json"
    path.write_bytes(saved)
    report = tmp_path / "r.json"
    code = main(["check", "--journal", str(path), "--report", str(report)])
    assert code == 0  # a warning does not fail the check
    data = json.loads(report.read_text())
    assert data["summary"]["broken_rules"] == ["download-output"]
    assert data["summary"]["clients"] == ["****0042"]
    assert data["client_run"] is None


def test_checker_table_in_the_config_tunes_rules(tmp_path: Path) -> None:
    config = tmp_path / "check.toml"
    config.write_text(
        '[lifecycle]\nqueue_seconds = 0.5\n\n[checker.severity]\n"poll-interval" = "warning"\n'
    )
    code = main(["check", *FAST, "--config", str(config), "-q", "--", *PY_CLIENT, "--careless",
                 "poll-interval"])  # fmt: skip
    assert code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "no command given"),
        (["--journal", "j.json", "--", "true"], "either --journal FILE or a command"),
        (["--report", "out.txt", "--", "true"], "--report must end in .xml, .json or .har"),
        (["--speed", "0", "--", "true"], "--speed must be positive"),
        (["--speed", "inf", "--", "true"], "--speed must be positive and at most 1000000, got inf"),
        (["--speed", "nan", "--", "true"], "--speed must be positive and at most 1000000, got nan"),
        (["--speed", "1e300", "--", "true"], "--speed must be positive and at most 1000000"),
        (["--timeout", "0", "--", "true"], "--timeout must be a positive number of seconds, got 0"),
        (["--timeout", "nan", "--", "true"], "--timeout must be a positive number of seconds"),
        (["--api-key", "", "--", "true"], "--api-key must not be empty"),
        (["--report", "no-such-dir/x.xml", "--", "true"], "--report: no directory 'no-such-dir'"),
    ],
)
def test_usage_errors(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", *args]) == 2
    assert message in capsys.readouterr().err


def test_config_errors_name_key_and_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[checker]\nmin_poll_interval = -1\n")
    assert main(["check", "--config", str(config), "--", "true"]) == 2
    err = capsys.readouterr().err
    assert f"key 'checker.min_poll_interval' in {config}" in err
    journal = tmp_path / "j.json"
    journal.write_text("{not json")
    assert main(["check", "--journal", str(journal)]) == 2
    assert f"{journal}: not a saved journal" in capsys.readouterr().err


def test_a_har_file_given_as_journal_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = tmp_path / "run.har"
    har.write_text(json.dumps({"log": {"version": "1.2", "entries": []}}))
    assert main(["check", "--journal", str(har)]) == 2
    err = capsys.readouterr().err
    assert f"{har}: not a saved journal: it has no 'entries'" in err
    assert "HAR" in err
    assert "GET /_mock/journal" in err


def test_list_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("key-header  [error, doc]\n    Every gateway request carries")
    assert "retry-after-429  [error, recommendation]" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"started_at": "soon"}, "entry 0: started_at must be a number, got 'soon'"),
        ({"status": "200"}, "entry 0: status must be a whole number or null, got '200'"),
        ({"headers": ["x"]}, "entry 0: headers must be an object of strings"),
        ({"route": 5}, "entry 0: route must be a string, got 5"),
        ({"key": 1234}, "entry 0: key must be a string or null, got 1234"),
        ({"colour": "red"}, "JournalEntry.__init__() got an unexpected keyword argument 'colour'"),
    ],
)
def test_a_malformed_saved_journal_is_named_not_a_traceback(
    change: dict[str, object], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = {"seq": 1, "kind": "request", "route": "status", "method": "GET", "url": "http://h/",
             "path": "/", "headers": {}, "started_at": 1.0, "finished_at": 2.0, "status": 200}  # fmt: skip
    entry.update(change)
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"entries": [entry]}))
    assert main(["check", "--journal", str(path)]) == 2
    assert f"{path}: not a saved journal: {message}" in capsys.readouterr().err


def test_a_client_that_never_calls_the_gateway_fails_as_no_traffic(tmp_path: Path) -> None:
    xml, js = tmp_path / "check.xml", tmp_path / "check.json"
    run = cli("--report", str(xml), "--report", str(js), "--", sys.executable, "-c", "pass")
    assert run.returncode == 1, run.stdout + run.stderr
    first = run.stdout.splitlines()[0]
    assert first.startswith("mockgateway check: FAILED: 0 error(s)")
    assert first.endswith("why: no-traffic: the client made no request to the gateway")
    assert "FAILED no-traffic: the client made no request to the gateway" in run.stdout
    assert "rules that held: none, there was nothing to judge" in run.stdout
    data = json.loads(js.read_text())
    assert data["passed"] is False
    assert data["summary"]["no_traffic"] is True
    assert data["summary"]["traffic"] == 0
    assert data["reasons"] == ["no-traffic: the client made no request to the gateway"]
    root = assert_junit_shape(xml.read_text())
    failed = {c.attrib["name"]: c.find("failure") for c in root.iter("testcase")}
    failure = failed["no-traffic"]
    assert failure is not None
    assert failure.attrib["message"] == "the client made no request to the gateway"


def test_operator_calls_alone_are_no_traffic_but_one_vendor_request_is(tmp_path: Path) -> None:
    admin_only = (
        "import os, urllib.request; "
        "urllib.request.urlopen(os.environ['MOCKGATEWAY_URL'] + '/_mock/health').read()"
    )
    assert cli("-q", "--", sys.executable, "-c", admin_only).returncode == 1
    one_poll = (
        "import os, urllib.request, urllib.error\n"
        "req = urllib.request.Request(os.environ['MOCKGATEWAY_URL'] + '/v2/requests/status/x',"
        " headers={'Ocp-Apim-Subscription-Key': os.environ['MOCKGATEWAY_API_KEY']})\n"
        "try: urllib.request.urlopen(req)\n"
        "except urllib.error.HTTPError: pass\n"
    )
    run = cli("-q", "--", sys.executable, "-c", one_poll)
    assert "no-traffic" not in run.stdout  # judged, and (polling a made-up id) found wanting
    assert run.stdout.rstrip().endswith("why: broken: poll-polling-url")


@pytest.mark.parametrize(
    ("client", "code", "why"),
    [
        ([sys.executable, "-c", "import sys; sys.exit(3)"], 3,
         "why: no-traffic: the client made no request to the gateway; client exited 3"),
        ([*PY_CLIENT, "--careless", "poll-after-terminal"], 1, "why: broken: poll-after-terminal"),
    ],
)  # fmt: skip
def test_the_quiet_line_says_why_the_check_failed(client: list[str], code: int, why: str) -> None:
    run = cli(*FAST, "-q", "--", *client)
    assert run.returncode == code, run.stdout + run.stderr
    verdict = [line for line in run.stdout.splitlines() if line.startswith("mockgateway check:")]
    assert len(verdict) == 1
    assert verdict[0].startswith("mockgateway check: FAILED: ")
    assert verdict[0].endswith(why)


MODELS_TOML = ROOT / "examples" / "models.toml"


def test_check_model_aims_the_client_and_a_model_not_served_is_a_usage_error(
    tmp_path: Path,
) -> None:
    env_dump = tmp_path / "env.json"
    client = [sys.executable, "-c", "import json, os, sys; json.dump(dict(os.environ), "
              f"open({str(env_dump)!r}, 'w'))"]  # fmt: skip
    aimed = cli("--config", str(MODELS_TOML), "--model", "acme-text-to-speech-v1", "--", *client)
    assert aimed.returncode == 1, aimed.stderr  # no traffic: the client only wrote its env
    env = json.loads(env_dump.read_text())
    assert env["MOCKGATEWAY_MODEL"] == "acme-text-to-speech-v1"
    assert env["MOCKGATEWAY_GENERATE_URL"] == (
        f"{env['MOCKGATEWAY_URL']}/acme-text-to-speech-v1/v1/acme-text-to-speech-v1-request"
    )
    cli("--", *client)
    assert json.loads(env_dump.read_text())["MOCKGATEWAY_MODEL"] == "bytedance-omnihuman-v1-5-290"

    unknown = cli("--config", str(MODELS_TOML), "--model", "acme-video-v9", "--", *client)
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "mockgateway check: --model: model 'acme-video-v9' is not declared (served: "
        "bytedance-omnihuman-v1-5-290, acme-image-to-video-v2, acme-text-to-image-v1, "
        "acme-text-to-speech-v1)\n"
    )
    off = tmp_path / "off.toml"
    off.write_text('[[models]]\nid = "bytedance-omnihuman-v1-5-290"\nenabled = false\n')
    switched = cli("--config", str(off), "--model", "bytedance-omnihuman-v1-5-290", "--", *client)
    assert switched.returncode == 2
    assert "is declared but switched off (served: none)" in switched.stderr
    journal = tmp_path / "j.json"
    journal.write_text('{"entries": []}')
    both = cli("--model", "bytedance-omnihuman-v1-5-290", "--journal", str(journal))
    assert both.returncode == 2
    assert "--model names the model a client is to call; a saved journal has no client" in (
        both.stderr
    )


def test_a_saved_journal_is_judged_by_the_models_of_its_configuration(tmp_path: Path) -> None:
    config = load_config(MODELS_TOML)
    body = json.dumps({"prompt": "a lighthouse", "seed": 7}).encode()
    with serve_in_thread(config) as gw:
        url = f"{gw.url}/acme-text-to-image-v1/v1/acme-text-to-image-v1-request"
        headers = {"Content-Type": "application/json", "Cache-Control": "no-cache",
                   "Ocp-Apim-Subscription-Key": "k-0001"}  # fmt: skip
        request = urllib.request.Request(url, data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 202
        with urllib.request.urlopen(f"{gw.url}/_mock/journal", timeout=10) as answer:
            (tmp_path / "journal.json").write_bytes(answer.read())
    with_models = cli("--journal", str(tmp_path / "journal.json"), "--config", str(MODELS_TOML))
    assert "generate-undocumented-field" in with_models.stdout
    assert "carries field(s) its request schema does not document: seed" in with_models.stdout
    alone = cli("--journal", str(tmp_path / "journal.json"))
    assert "generate request to /acme-text-to-image-v1/v1/acme-text-to-image-v1-request: no " in (
        alone.stdout
    )
    assert alone.returncode == 1
