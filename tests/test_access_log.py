"""The access log: ``serve -v`` writes one line per request to stderr (method, path, status,
milliseconds, the key redacted as the journal redacts it); without ``-v`` nothing is logged and
nothing is formatted."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from mockgateway._access_log import AccessLine, access_line

from .support import DOC_BODY, DOC_HEADERS, GENERATE_PATH, served

LINE = re.compile(
    r"(?P<method>[A-Z]+) (?P<path>\S+) (?P<status>\d{3}) (?P<ms>\d+\.\d)ms key=(?P<key>\S+)"
)
SECRET = "team-secret-key-9f3a"


def _serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().split()[-1]


def _traffic(url: str) -> str:
    """A generate with a key, its status poll, an unknown job, a keyless health read."""
    request = urllib.request.Request(
        url + GENERATE_PATH,
        data=json.dumps(DOC_BODY).encode(),
        headers={**DOC_HEADERS, "Ocp-Apim-Subscription-Key": SECRET},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        request_id: str = json.load(response)["request_id"]
    poll = urllib.request.Request(
        f"{url}/v2/requests/status/{request_id}", headers={"Ocp-Apim-Subscription-Key": SECRET}
    )
    urllib.request.urlopen(poll, timeout=10).close()
    missing = urllib.request.Request(
        f"{url}/v2/requests/status/nope?x=1", headers={"Ocp-Apim-Subscription-Key": "abc"}
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(missing, timeout=10)
    urllib.request.urlopen(f"{url}/_mock/health", timeout=10).close()
    return request_id


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=15)
    assert process.returncode == 0, err
    return err


def test_serve_v_logs_one_line_per_request_with_the_key_redacted() -> None:
    process, url = _serve("-v")
    try:
        request_id = _traffic(url)
    finally:
        err = _stop(process)
    lines = err.splitlines()
    matches = [LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    seen = [(m["method"], m["path"], m["status"], m["key"]) for m in matches if m]
    assert seen == [
        ("POST", GENERATE_PATH, "202", "****9f3a"),
        ("GET", f"/v2/requests/status/{request_id}", "200", "****9f3a"),
        ("GET", "/v2/requests/status/nope?x=1", "404", "****"),  # 4 characters or fewer: hidden
        ("GET", "/_mock/health", "200", "-"),
    ]
    assert all(0 <= float(m["ms"]) < 10_000 for m in matches if m)
    assert SECRET not in err


def test_serve_is_quiet_by_default() -> None:
    process, url = _serve()
    try:
        _traffic(url)
    finally:
        err = _stop(process)
    assert err == ""


def test_the_line_format() -> None:
    assert access_line("GET", "/x", 200, 0.00042, "k-0001") == "GET /x 200 0.4ms key=****0001"
    assert access_line("POST", "/y", 401, 1.5, None) == "POST /y 401 1500.0ms key=-"


async def test_in_process_the_logger_given_gets_the_lines(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.access")
    with caplog.at_level(logging.INFO, logger="tests.access"):
        async with served(access_log=logger) as (_gw, client):
            await client.status("nope")
    [record] = [r for r in caplog.records if r.name == "tests.access"]
    assert LINE.fullmatch(record.getMessage())
    assert record.getMessage().startswith("GET /v2/requests/status/nope 404 ")


@pytest.mark.parametrize("logging_on", [False, True])
async def test_without_a_logger_no_line_is_even_formatted(
    monkeypatch: pytest.MonkeyPatch, logging_on: bool
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(AccessLine, "log", lambda *args: calls.append(args))
    logger = logging.getLogger("tests.access.off") if logging_on else None
    async with served(access_log=logger) as (_gw, client):
        assert (await client.generate()).status == 202
        assert (await client.status("nope")).status == 404
    assert len(calls) == (2 if logging_on else 0)
