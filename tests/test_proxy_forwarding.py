"""The proxy end to end: an upstream gateway of ours and the proxy, each its own process on
loopback, and a client talking to the proxy over real sockets."""

from __future__ import annotations

import hashlib
import http.server
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from haralyzer import HarParser

from tests.proxy_support import (
    BODY,
    FAST_UPSTREAM,
    GENERATE_PATH,
    KEY,
    free_port,
    generate,
    poll_until_done,
    proxy,
    session,
    upstream,
    wait_for,
)


def _upstream_journal(base: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = (
        session().get(base + "/_mock/journal", timeout=10).json()["entries"]
    )
    return entries


def test_forwarding_rewrites_urls_streams_media_records_and_redacts_keys(tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    report = tmp_path / "drift.json"
    with (
        upstream(tmp_path) as up,
        proxy(up.url, "--allow-billable", "--record", str(har), "--report", str(report)) as px,
    ):
        s = session()
        accepted = generate(s, px.url)
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        rid = body["request_id"]
        assert body["polling_url"] == f"{px.url}/v2/requests/status/{rid}"
        seen = poll_until_done(s, body["polling_url"])
        done = seen[-1]
        assert done["status"] == "COMPLETED"
        media_url = done["output"]["media_url"][0]
        assert media_url == f"{px.url}/v1/{rid}/output.mp4"
        through = s.get(media_url, timeout=30)
        direct = s.get(f"{up.url}/v1/{rid}/output.mp4", timeout=30)
        assert through.status_code == 200
        assert through.headers["Content-Type"] == "video/mp4"
        assert hashlib.sha256(through.content).digest() == hashlib.sha256(direct.content).digest()
        head = s.head(media_url, timeout=30)
        assert head.status_code == 200
        assert head.headers["Content-Length"] == str(len(direct.content))
        assert head.content == b""
        ranged = s.get(media_url, headers={"Range": "bytes=0-99"}, timeout=30)
        assert ranged.status_code == 206
        assert ranged.content == direct.content[:100]
        assert ranged.headers["Content-Range"].startswith("bytes 0-99/")
        # the upstream saw the client's key on generate and status, the proxy's address nowhere
        seen_upstream = _upstream_journal(up.url)
        routes = {e["route"] for e in seen_upstream}
        assert {"generate", "status", "media"} <= routes
        assert all(e["key"] == "****" + KEY[-4:] for e in seen_upstream if e["route"] != "media")
        # a callback asked for without --webhook-base-url is refused locally, not half-done
        hooked = generate(s, px.url, **{"X-Webhook-URL": "http://127.0.0.1:9/hook"})
        assert hooked.status_code == 400
        assert "--webhook-base-url" in hooked.json()["message"]
        # an undocumented path never goes upstream
        stray = s.get(px.url + "/v1/requests/" + rid, timeout=10)
        assert stray.status_code == 404
        spend = wait_for(lambda: (r := s.get(px.url + "/_mock/spend", timeout=5).json())
                         ["unpriced"] == 0 and r)  # fmt: skip
        assert spend["usd"] == "0.48"  # 3 s of the bundled speech at 0.16 USD
        assert s.get(px.url + "/_mock/drift", timeout=5).json()["drifts"] == []
        journal = s.get(px.url + "/_mock/journal", timeout=5).json()["entries"]
        live_har = s.get(px.url + "/_mock/journal.har", timeout=5).json()["log"]
        assert [j["request_id"] for j in live_har["_jobs"]] == [rid]
        code, out, err = px.stop()
    assert code == 0, err
    assert "spend: 0.48 USD for 1 job(s)" in err
    # HAR 1.2 that a HAR reader loads, with the job's transition times
    document = json.loads(har.read_text())
    parser = HarParser(document)
    assert parser.har_data["version"] == "1.2"
    assert len(parser.har_data["entries"]) == len(journal)
    (job,) = [j for j in document["log"]["_jobs"] if j["request_id"] == rid]
    assert job["transitions"][0]["status"] == "QUEUED"
    assert job["transitions"][-1]["status"] == "COMPLETED"
    assert job["transitions"][-1]["updated_at"] == done["updated_at"]
    assert all(isinstance(t["seen_at"], float) for t in job["transitions"])
    assert job["output_seconds"] == pytest.approx(3.0, abs=0.1)
    # the key is never kept or printed beyond its last four characters
    for text in (har.read_text(), report.read_text(), err, out, json.dumps(journal)):
        assert KEY not in text
        assert KEY[:-4] not in text
    assert "****" + KEY[-4:] in har.read_text()
    # the proxy's journal is a saved journal like the gateway's: check --journal judges it
    saved = tmp_path / "journal.json"
    saved.write_text(json.dumps({"entries": journal}))
    judged = subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--journal", str(saved)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert judged.returncode == 1, judged.stdout + judged.stderr  # it polled every 20 ms
    assert "why: broken: poll-interval" in judged.stdout


def test_generate_is_refused_without_allow_billable_and_never_sent(tmp_path: Path) -> None:
    with upstream(tmp_path) as up, proxy(up.url) as px:
        s = session()
        refused = generate(s, px.url)
        assert refused.status_code == 402
        body = refused.json()
        assert set(body) == {"error", "message"}
        assert "--allow-billable" in body["message"]
        assert "0.16 USD per second" in body["message"]
        assert [e for e in _upstream_journal(up.url) if e["route"] == "generate"] == []
        code, _, err = px.stop()
    assert code == 0
    assert "generate refused" in err
    assert "1 generate request(s) refused by the spend guard" in err


def test_spend_guard_refuses_once_the_budget_is_reached(tmp_path: Path) -> None:
    with upstream(tmp_path) as up, proxy(up.url, "--allow-billable", "--budget", "10.50") as px:
        s = session()

        def priced() -> bool:
            return bool(s.get(px.url + "/_mock/spend", timeout=5).json()["unpriced"] == 0)

        first = generate(s, px.url)  # 480p: at most 9.60 USD, within 10.50
        assert first.status_code == 202
        # until its output's length is known, the job counts at the most it can cost (60 s)
        early = generate(s, px.url)
        assert early.status_code == 402
        assert "this job could cost up to 9.60 USD" in early.json()["message"]
        assert "0.90 USD left of --budget 10.50 USD" in early.json()["message"]
        assert "counted at their most" in early.json()["message"]
        poll_until_done(s, first.json()["polling_url"])
        wait_for(priced)
        second = generate(s, px.url)  # 0.48 + 9.60 = 10.08 fits
        assert second.status_code == 202, second.text
        poll_until_done(s, second.json()["polling_url"])
        wait_for(priced)
        third = generate(s, px.url)  # 0.96 + 9.60 = 10.56 would not
        assert third.status_code == 402
        assert "the run's spend is 0.96 USD" in third.json()["message"]
        accepted = [e for e in _upstream_journal(up.url) if e["route"] == "generate"]
        assert len(accepted) == 2
        code, _, err = px.stop()
    assert code == 0
    assert "spend: 0.96 USD for 2 job(s)" in err
    assert "2 generate request(s) refused" in err


class _Receiver(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.bodies.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    bodies: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"bodies": bodies})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()


def test_webhooks_are_relayed_to_the_clients_receiver(
    tmp_path: Path, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    hook_url, bodies = receiver
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with (
        upstream(tmp_path) as up,
        proxy(up.url, "--allow-billable", "--webhook-base-url", base, port=port) as px,
    ):
        s = session()
        accepted = generate(s, px.url, **{"X-Webhook-URL": hook_url})
        assert accepted.status_code == 202
        rid = accepted.json()["request_id"]
        wait_for(lambda: bodies)
        (callback,) = bodies
        assert callback["request_id"] == rid
        assert callback["status"] == "COMPLETED"
        assert callback["output"]["media_url"] == [f"{px.url}/v1/{rid}/output.mp4"]
        # the upstream was given the proxy's relay address, never the client's receiver
        (sent,) = [e for e in _upstream_journal(up.url) if e["route"] == "generate"]
        assert sent["headers"]["X-Webhook-URL"].startswith(base + "/_mock/relay/")
        # the upstream journals its attempt once the answer is back: a moment after the receiver
        attempts = wait_for(
            lambda: [e for e in _upstream_journal(up.url) if e["route"] == "webhook"]
        )
        assert attempts[0]["status"] == 204  # the receiver's answer, passed back upstream
        # a receiver the outbound policy does not allow is never connected to, and the job
        # whose callbacks could never be delivered is never sent upstream (never paid for)
        blocked = generate(s, px.url, **{"X-Webhook-URL": "http://10.255.255.1/hook"})
        assert blocked.status_code == 400
        assert "allow_hosts" in blocked.json()["message"]
        assert len([e for e in _upstream_journal(up.url) if e["route"] == "generate"]) == 1
        relayed = [
            e for e in s.get(px.url + "/_mock/journal", timeout=5).json()["entries"]
            if e["kind"] == "webhook" and e["request_id"] == rid
        ]  # fmt: skip
        assert relayed[0]["status"] == 204
        assert relayed[0]["key"] == "****" + KEY[-4:]


def test_media_on_another_host_is_left_for_the_client_and_never_fetched(tmp_path: Path) -> None:
    with socket.socket() as elsewhere:
        elsewhere.bind(("127.0.0.2", 0))  # another host, as a CDN would be
        elsewhere.listen()
        elsewhere.setblocking(False)
        cdn = f"http://127.0.0.2:{elsewhere.getsockname()[1]}"
        with (
            upstream(tmp_path, rewrites={"media_base": cdn}) as up,
            proxy(up.url, "--allow-billable") as px,
        ):
            s = session()
            accepted = generate(s, px.url).json()
            done = poll_until_done(s, accepted["polling_url"])[-1]
            rid = accepted["request_id"]
            assert done["output"]["media_url"] == [f"{cdn}/v1/{rid}/output.mp4"]
            time.sleep(0.3)
            spend = s.get(px.url + "/_mock/spend", timeout=5).json()
            assert spend["unpriced"] == 1  # its length unknown: counted at its most
            assert spend["usd"] == "9.60"
        with pytest.raises(BlockingIOError):
            elsewhere.accept()  # nothing ever connected to the other host


def test_a_body_that_arrives_in_pieces_is_forwarded_whole(tmp_path: Path) -> None:
    config = FAST_UPSTREAM + "[server]\nmax_body_bytes = 400000\n"
    body = json.dumps({**BODY, "audio_url": "data:audio/wav;base64," + "A" * 200_000}).encode()
    with upstream(tmp_path, config) as up, proxy(up.url, "--allow-billable") as px:
        host, port = px.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(
                f"POST {GENERATE_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Ocp-Apim-Subscription-Key: {KEY}\r\nContent-Type: application/json\r\n"
                f"Cache-Control: no-cache\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            for i in range(0, len(body), 70_000):
                conn.sendall(body[i : i + 70_000])
                time.sleep(0.05)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 202"), answer[:300]
        (sent,) = [e for e in _upstream_journal(up.url) if e["route"] == "generate"]
        assert sent["body_size"] == len(body)
