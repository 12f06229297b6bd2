"""The proxy and calibrate commands' usage: each mistake is one line naming it, exit status 2;
nothing starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mockgateway._cli import main
from tests.proxy_support import ROOT

UP = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["proxy"], "the following arguments are required: --upstream"),
        (["proxy", "--upstream", "ftp://x"], "must be an http:// or https:// URL"),
        (["proxy", "--upstream", "http://x/?a=1"], "must have no query or fragment"),
        (["proxy", "--upstream", "http://me:PASSWORD-1@x/?a=1"], "got 'http://<user>@x/?a=1'"),
        (["proxy", "--upstream", UP, "--record", "run.json"], "must end in .har"),
        (["proxy", "--upstream", UP, "--port", "70000"], "must be a whole number from 0 to 65535"),
        (["proxy", "--upstream", UP, "--known-drift", "/nonexistent"], "cannot read"),
        (["calibrate"], "the following arguments are required: RUN.har"),
    ],
)
def test_argument_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert "PASSWORD-1" not in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["proxy", "--upstream", UP, "--report", "drift.txt"], "--report must end in .json or .xml"),
        (["proxy", "--upstream", UP, "--allow-billable", "--budget", "ten"], "--budget:"),
        (["proxy", "--upstream", UP, "--budget", "1.00"], "give --allow-billable with it"),
        (["check", "--allow-billable", "--", "true"], "--allow-billable applies to --upstream only"),
        (["check", "--upstream", UP, "--speed", "5", "--", "true"], "drop --speed, --tls and --journal"),
    ],
)  # fmt: skip
def test_option_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_bad_known_drift_file_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    known = tmp_path / "known.toml"
    known.write_text("[[known]]\nreason = 'no match'\n")
    assert main(["proxy", "--upstream", UP, "--known-drift", str(known)]) == 2
    assert "known[0].match" in capsys.readouterr().err


def test_calibrate_names_a_file_that_is_not_a_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    journal = tmp_path / "journal.har"
    journal.write_text('{"log": {"entries": []}}')
    assert main(["calibrate", str(journal)]) == 2
    assert "recording 1 has no log._jobs" in capsys.readouterr().err
    broken = tmp_path / "broken.har"
    broken.write_text("{")
    assert main(["calibrate", str(broken)]) == 2
    assert f"{broken}: not a HAR file: recording is not valid JSON" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("jobs", "named"),
    [
        ('[{"model_id": 5}]', "recording 1: log._jobs[0].model_id must be a string or null, got 5"),
        ('[{"model_id": "m", "transitions": "no"}]', "log._jobs[0].transitions must be a list"),
        ('"all"', "recording 1 has no log._jobs"),
    ],
)
def test_calibrate_names_a_malformed_recording(
    jobs: str, named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = tmp_path / "run.har"
    har.write_text('{"log": {"entries": [], "_jobs": ' + jobs + "}}")
    assert main(["calibrate", str(har)]) == 2
    captured = capsys.readouterr()
    assert named in captured.err
    assert captured.out == ""


def test_calibrate_with_nothing_to_fit_says_so_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    har = tmp_path / "run.har"
    har.write_text('{"log": {"entries": [], "_jobs": []}}')
    assert main(["calibrate", str(har)]) == 2
    captured = capsys.readouterr()
    assert "nothing to fit" in captured.err
    assert "no profile written" in captured.err
    assert captured.out == ""


def test_proxy_operator_token_is_checked_like_serves(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["proxy", "--upstream", "http://127.0.0.1:9", "--operator-token", "short"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "8 to 256 visible ASCII characters" in err
    assert "short'" not in err.split("--operator-token")[-1]


def test_a_port_in_use_is_one_line_and_status_1(tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mockgateway", "proxy", "--upstream", UP, "--port", str(port),
             "--record", str(har)],
            cwd=ROOT, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    assert list(tmp_path.iterdir()) == []  # no recording, and no spool left behind
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"mockgateway proxy: cannot listen on 127.0.0.1:{port}: address already in use"
    ), done.stderr
    assert time.monotonic() - started < 20
