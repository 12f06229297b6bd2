"""The journal as HAR 1.2: valid against the format's required fields, and read by a HAR reader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from haralyzer import HarEntry, HarParser  # type: ignore[import-untyped]
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from mockgateway import contract
from mockgateway._har import to_har
from mockgateway._journal import JournalEntry

from .support import KEY, served

ROOT = Path(__file__).parent.parent
HAR_SCHEMA = contract.load_operator_openapi()["components"]["schemas"]["Har"]


def assert_valid_har(har: dict[str, Any]) -> list[Any]:
    """Valid against the HAR 1.2 schema, and every entry readable by haralyzer."""
    problems = [
        f"at {e.json_path}: {e.message}" for e in Draft202012Validator(HAR_SCHEMA).iter_errors(har)
    ]
    assert problems == []
    parser = HarParser(har)
    assert parser.version == "1.2"
    assert parser.creator["name"] == "mockgateway"
    read = [HarEntry(e) for e in har["log"]["entries"]]
    for entry in read:
        assert entry.startTime.tzinfo is not None
        assert entry.request.method
        assert entry.time >= 0
    assert sum(len(page.entries) for page in parser.pages) == len(read)
    return read


async def test_the_har_holds_every_exchange_with_webhooks_keys_redacted() -> None:
    async with served() as (gw, client):
        hook = f"{gw.url}/_mock/health"
        rid = (await client.generate(headers={"X-Webhook-URL": hook})).body["request_id"]
        await client.admin("POST", f"jobs/{rid}/complete")
        await client.status(rid)
        answer = await client.request("GET", "/_mock/journal.har", key=None)
        journal = (await client.admin("GET", "journal"))["entries"]
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert "mockgateway.har" in answer.headers["Content-Disposition"]
    har = answer.body
    read = assert_valid_har(har)
    assert KEY not in answer.raw.decode()
    entries = har["log"]["entries"]
    assert [e["_seq"] for e in entries] == [e["seq"] for e in journal[: len(entries)]]
    generate, webhook = entries[0], next(e for e in entries if e["_kind"] == "webhook")
    assert read[0].request.get_header_value("Ocp-Apim-Subscription-Key") == "****" + KEY[-4:]
    assert json.loads(generate["request"]["postData"]["text"]) == journal[0]["body"]
    assert generate["request"]["postData"]["mimeType"] == "application/json"
    assert generate["response"]["status"] == 202
    assert generate["response"]["statusText"] == "Accepted"
    assert json.loads(generate["response"]["content"]["text"])["request_id"] == rid
    assert generate["_requestId"] == rid
    assert webhook["request"]["method"] == "POST"
    assert webhook["request"]["url"] == hook
    assert json.loads(webhook["request"]["postData"]["text"])["status"] == "COMPLETED"
    assert webhook["response"]["status"] == 405  # /_mock/health takes no POST: a refusal, kept
    assert webhook["comment"].startswith(f"#{webhook['_seq']} webhook webhook; attempt 1 of")
    status = next(e for e in entries if e["_route"] == "status")
    assert status["_billing"]["status"] == "COMPLETED"
    assert status["timings"]["wait"] == status["time"]


def test_an_exchange_without_answer_and_odd_bodies_still_make_valid_har() -> None:
    entries = [
        JournalEntry(seq=1, kind="request", route="status", method="GET",
                     url="http://127.0.0.1:1/v2/requests/status/x?a=1&b=", path="/v2/requests/status/x",
                     headers={"Ocp-Apim-Subscription-Key": "****0001", "X-Odd": "\udcff"},
                     status=None, started_at=1e9, finished_at=1e9 + 0.25,
                     error="connection reset (injected)"),
        JournalEntry(seq=2, kind="webhook", route="webhook", method="POST",
                     url="http://127.0.0.1:2/hook", path="/hook", headers={},
                     body={"status": "FAILED"}, body_size=20, status=500,
                     response_body=b"\xffboom", started_at=1e9 + 1, finished_at=1e9 + 0.5),
    ]  # fmt: skip
    har = to_har(entries)
    assert_valid_har(json.loads(json.dumps(har)))
    lost, hook = har["log"]["entries"]
    assert (lost["response"]["status"], lost["response"]["statusText"]) == (0, "")
    assert lost["_error"] == "connection reset (injected)"
    assert lost["request"]["queryString"] == [
        {"name": "a", "value": "1"},
        {"name": "b", "value": ""},
    ]
    assert lost["time"] == 250
    assert lost["startedDateTime"] == "2001-09-09T01:46:40.000+00:00"
    assert "postData" not in lost["request"]
    assert hook["time"] == 0  # a finish before the start never makes a negative time
    assert hook["response"]["content"]["text"] == "\ufffdboom"


def test_check_writes_the_judged_journal_as_har(tmp_path: Path) -> None:
    har_file = tmp_path / "run.har"
    client = [sys.executable, str(ROOT / "tests" / "clients" / "client.py")]
    run = subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--speed", "50", "--timeout", "60",
         "-q", "--report", str(har_file), "--", *client],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    har = json.loads(har_file.read_text())
    read = assert_valid_har(har)
    routes = [e["_route"] for e in har["log"]["entries"]]
    assert routes[0] == "generate"
    assert {"status", "media"} <= set(routes)
    media = next(e for e in har["log"]["entries"] if e["_route"] == "media")
    assert media["response"]["content"]["mimeType"] == "video/mp4"
    assert media["response"]["content"]["size"] == media["response"]["bodySize"] > 0
    assert all(e.request.get_header_value("Ocp-Apim-Subscription-Key") in (None, "****0001")
               for e in read)  # fmt: skip

    saved = tmp_path / "journal.json"
    saved.write_text(json.dumps({"entries": []}))
    again = tmp_path / "again.har"
    subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--journal", str(saved), "--report",
         str(again)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )  # fmt: skip
    assert json.loads(again.read_text())["log"]["entries"] == []
