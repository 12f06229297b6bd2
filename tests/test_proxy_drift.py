"""Drift end to end: an upstream that drifts in every way the rules know, each drift reported
once with its evidence, on stderr, at GET /_mock/drift and in the JSON and JUnit reports."""

from __future__ import annotations

import http.server
import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.proxy_support import (
    KEY,
    free_port,
    generate,
    poll_until_done,
    proxy,
    session,
    upstream,
    wait_for,
)

REWRITES = {
    "lower_status": True,
    "extra_field": {"progress": 100, "error": 5},
    "drop_field": "model_id",
    "short_timestamps": True,
    "teapot_every": 4,
    "regress": True,
}
KINDS = {
    "status-value": 'status-value:getStatus:$.status="completed"',
    "extra-field": "extra-field:getStatus:$.progress",
    "type": "type:getStatus:$.error",
    "missing-field": "missing-field:getStatus:$.model_id",
    "timestamp-format": "timestamp-format:getStatus:$.created_at",
    "undocumented-status": "undocumented-status:getStatus:418",
    "error-body": "error-body:getStatus:418",
    "illegal-transition": "illegal-transition:getStatus:COMPLETED->PROCESSING",
}


def test_each_drift_is_reported_once_with_evidence(tmp_path: Path) -> None:
    known = tmp_path / "known.toml"
    known.write_text(
        '[[known]]\nmatch = "extra-field:*"\nreason = "the upstream adds progress on purpose"\n'
    )
    json_report, xml_report = tmp_path / "drift.json", tmp_path / "drift.xml"
    with (
        upstream(tmp_path, rewrites=REWRITES) as up,
        proxy(up.url, "--allow-billable", "--known-drift", str(known),
              "--report", str(json_report), "--report", str(xml_report)) as px,
    ):  # fmt: skip
        s = session()
        for _ in range(2):
            accepted = generate(s, px.url)
            assert accepted.status_code == 202
            url = accepted.json()["polling_url"]
            seen = poll_until_done(s, url)
            # the client gets the upstream's answer as it was (the drift is reported, not fixed)
            assert seen[-1]["status"] == "completed"
            for _ in range(3):  # past the end: the regressing answer and a teapot
                s.get(url, headers={"Ocp-Apim-Subscription-Key": KEY}, timeout=10)
        live = s.get(px.url + "/_mock/drift", timeout=5).json()
        code, _, err = px.stop()
    ids = {d["id"]: d for d in live["drifts"]}
    assert set(KINDS.values()) <= set(ids), sorted(ids)
    for drift_id in KINDS.values():
        assert err.count(f"{drift_id}:") == 1, drift_id  # once on stderr, however often seen
    assert ids[KINDS["status-value"]]["count"] > 2
    evidence = ids[KINDS["status-value"]]["evidence"]
    assert evidence["status"] == 200
    assert evidence["path"].startswith("/v2/requests/status/")
    assert '"completed"' in evidence["body"]
    assert ids[KINDS["extra-field"]]["level"] == "info"
    assert ids[KINDS["extra-field"]]["known_reason"] == "the upstream adds progress on purpose"
    assert ids[KINDS["status-value"]]["level"] == "error"
    assert ids[KINDS["error-body"]]["level"] == "warning"
    assert code == 1  # a documented behaviour drifted
    saved = json.loads(json_report.read_text())
    assert {d["id"] for d in saved["drifts"]} == set(ids)
    assert saved["failed"] is True
    suite = ET.parse(xml_report).getroot().find("testsuite")
    assert suite is not None
    failed = {c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None}
    assert {"status-value", "missing-field", "type", "timestamp-format", "undocumented-status",
            "illegal-transition"} <= failed  # fmt: skip
    assert "extra-field" not in failed  # known: info
    assert KEY not in json_report.read_text() + xml_report.read_text() + err


def test_a_conforming_upstream_exits_zero_with_an_empty_report(tmp_path: Path) -> None:
    report = tmp_path / "drift.xml"
    with upstream(tmp_path) as up, proxy(up.url, "--allow-billable", "--report", str(report)) as px:
        s = session()
        poll_until_done(s, generate(s, px.url).json()["polling_url"])
        code, _, err = px.stop()
    assert code == 0, err
    assert "drift: 0 documented, 0 other, 0 known" in err
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("failures") == "0"


def test_a_drifting_callback_is_reported_and_still_relayed(tmp_path: Path) -> None:
    bodies: list[dict[str, object]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    try:
        with (
            upstream(tmp_path, rewrites={"lower_status": True}) as up,
            proxy(up.url, "--allow-billable", "--webhook-base-url", f"http://127.0.0.1:{port}",
                  port=port) as px,
        ):  # fmt: skip
            hook = f"http://127.0.0.1:{server.server_address[1]}/hook"
            assert generate(session(), px.url, **{"X-Webhook-URL": hook}).status_code == 202
            wait_for(lambda: bodies)
            drifts = session().get(px.url + "/_mock/drift", timeout=5).json()["drifts"]
    finally:
        server.shutdown()
        server.server_close()
    assert bodies[0]["status"] == "completed"  # relayed as the upstream sent it
    (drift,) = [d for d in drifts if d["operation"] == "webhook"]
    assert drift["id"] == 'status-value:webhook:$.status="completed"'
    assert drift["evidence"]["path"].startswith("/_mock/relay/<token> for ")
