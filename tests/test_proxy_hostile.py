"""The proxy against a hostile review: each test is one way it went wrong, over loopback, with the
proxy as its own process and the upstream either our gateway (its own process) or a scripted
HTTP server on a loopback socket (for answers no gateway of ours gives: a 200 generate, a media
redirect, an answer over 1 MiB)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mockgateway._errors import operator_token_required
from mockgateway.proxy._proxy import ProxySettings
from mockgateway.proxy._serve import proxy_in_thread
from mockgateway.proxy._tracked import TrackedJob
from tests.proxy_support import (
    BODY,
    FAST_UPSTREAM,
    GENERATE_PATH,
    KEY,
    generate,
    poll_until_done,
    proxy,
    session,
    upstream,
    wait_for,
)

MEDIA = b"\x00\x00\x00\x18ftypmp42" + b"m" * 5000


def _upstream_generates(base: str) -> list[dict[str, Any]]:
    entries = session().get(base + "/_mock/journal", timeout=10).json()["entries"]
    return [e for e in entries if e["route"] == "generate"]


# a scripted upstream --------------------------------------------------------------------------


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from ``routes``: path -> (status, headers, body); the base URL is substituted for
    ``{base}`` in a body or a header."""

    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}
    base: ClassVar[str] = ""
    seen: ClassVar[list[str]] = []
    protocol_version = "HTTP/1.1"

    def _answer(self, head: bool = False) -> None:
        self.seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.routes.get(
            self.path.split("?")[0], (404, {"Content-Type": "application/json"}, b"{}")
        )
        body = body.replace(b"{base}", self.base.encode())
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value.replace("{base}", self.base))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, dict[str, tuple[int, dict[str, str], bytes]], list[str]]]:
    routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
    seen: list[str] = []
    handler = type("Scripted", (_Scripted,), {"routes": routes, "seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    handler.base = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base, routes, seen
    finally:
        server.shutdown()
        server.server_close()


JSON = {"Content-Type": "application/json"}


def _status_body(rid: str, media_url: str) -> bytes:
    return json.dumps({
        "request_id": rid, "status": "COMPLETED", "model_id": "bytedance-omnihuman-v1-5-290",
        "created_at": "2026-03-31T10:00:00.000Z", "updated_at": "2026-03-31T10:00:15.000Z",
        "completed_at": "2026-03-31T10:00:15.000Z", "output": {"media_url": [media_url]},
        "error": None,
    }).encode()  # fmt: skip


# 1. the budget ---------------------------------------------------------------------------------


def test_a_job_whose_maximum_does_not_fit_the_budget_is_refused(tmp_path: Path) -> None:
    with upstream(tmp_path) as up, proxy(up.url, "--allow-billable", "--budget", "1.00") as px:
        s = session()
        refused = generate(s, px.url, body={**BODY, "resolution": "1080p"})
        assert refused.status_code == 402, refused.text
        message = refused.json()["message"]
        assert "this job could cost up to 4.80 USD" in message
        assert "more than the 1.00 USD left of --budget 1.00 USD" in message
        assert _upstream_generates(up.url) == []
        code, _, err = px.stop()
    assert code == 0
    assert "spend: 0.00 USD for 0 job(s)" in err


# 2. any 2xx generate is paid for -----------------------------------------------------------


def test_any_accepted_generate_counts_at_its_most_and_is_drift(scripted: Any) -> None:
    base, routes, seen = scripted
    routes[GENERATE_PATH] = (200, JSON, b'{"accepted": true}')
    with proxy(base, "--allow-billable", "--budget", "10.00") as px:
        s = session()
        body = {**BODY, "resolution": "1080p"}  # at most 4.80 USD each
        first = generate(s, px.url, body=body)
        assert first.status_code == 200
        spend = s.get(px.url + "/_mock/spend", timeout=5).json()
        assert (spend["usd"], spend["jobs"], spend["unpriced"]) == ("4.80", 1, 1)
        routes[GENERATE_PATH] = (202, JSON, b"not json")
        second = generate(s, px.url, body=body)
        assert second.status_code == 202
        third = generate(s, px.url, body=body)  # 9.60 counted: 4.80 more would pass 10.00
        assert third.status_code == 402, third.text
        assert len([x for x in seen if x.startswith("POST")]) == 2
        drifts = {d["id"] for d in s.get(px.url + "/_mock/drift", timeout=5).json()["drifts"]}
        assert "undocumented-status:generate:200" in drifts
        assert "not-json:generate:202" in drifts
        code, _, err = px.stop()
    assert code == 1  # a documented behaviour drifted (generate answers 202)
    assert "without a request id the proxy can read" in err
    assert "spend: 9.60 USD for 2 job(s)" in err


# 3. the recording is complete ------------------------------------------------------------------


def test_the_recording_keeps_every_exchange_past_the_journals_cap(tmp_path: Path) -> None:
    config = tmp_path / "proxy.toml"
    config.write_text("[journal]\nmax_entries = 5\n")
    har = tmp_path / "run.har"
    with (
        upstream(tmp_path) as up,
        proxy(up.url, "--config", str(config), "--record", str(har)) as px,
    ):
        s = session()
        for i in range(12):
            assert s.get(f"{px.url}/not/documented/{i}", timeout=10).status_code == 404
        live = s.get(px.url + "/_mock/journal.har", timeout=10).json()["log"]
        assert len(live["entries"]) == 5
        assert live["_dropped"] == 7
        assert "INCOMPLETE: 7 earlier exchange(s) were dropped" in live["comment"]
        code, _, err = px.stop()
    assert code == 0, err
    log = json.loads(har.read_text())["log"]
    paths = [e["request"]["url"].rsplit("/", 1)[-1] for e in log["entries"]]
    assert paths == [str(i) for i in range(12)]
    assert log["_dropped"] == 0
    assert "INCOMPLETE" not in log["comment"]
    assert not (tmp_path / "run.har.part").exists()


# 4. a callback that could never be delivered is never billed -----------------------------------


@pytest.mark.parametrize(
    "hook",
    ["not a url", "javascript:alert(1)", "ftp://127.0.0.1/hook", "http://hooks.example.com/h"],
)
def test_an_undeliverable_webhook_url_is_refused_before_forwarding(
    hook: str, tmp_path: Path
) -> None:
    with (
        upstream(tmp_path) as up,
        proxy(up.url, "--allow-billable", "--webhook-base-url", "http://127.0.0.1:9") as px,
    ):
        s = session()
        answer = generate(s, px.url, **{"X-Webhook-URL": hook})
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert set(body) == {"error", "message"}
        assert "X-Webhook-URL" in body["message"]
        if hook.startswith("http://hooks"):
            assert "allow_hosts" in body["message"]
        else:  # the gateway's own answer, word for word
            direct = generate(s, up.url, **{"X-Webhook-URL": hook})
            assert direct.status_code == 400
            assert body == direct.json()
        assert [e for e in _upstream_generates(up.url) if e["status"] == 202] == []


# 5. and 6. media the upstream names anywhere on its host, and its redirects ----------------


def test_media_on_any_path_the_upstream_named_is_served(scripted: Any) -> None:
    base, routes, _ = scripted
    routes["/v2/requests/status/r1"] = (
        200, JSON, _status_body("r1", "{base}/files/r1/out.mp4?sig=x"),
    )  # fmt: skip
    routes["/files/r1/out.mp4"] = (200, {"Content-Type": "video/mp4"}, MEDIA)
    routes["/files/other.mp4"] = (200, {"Content-Type": "video/mp4"}, MEDIA)
    with proxy(base) as px:
        s = session()
        headers = {"Ocp-Apim-Subscription-Key": KEY}
        one = s.get(px.url + "/v2/requests/status/r1", headers=headers, timeout=10).json()
        url = one["output"]["media_url"][0]
        assert url == px.url + "/files/r1/out.mp4?sig=x"
        got = s.get(url, timeout=10)
        assert got.status_code == 200
        assert got.content == MEDIA
        assert got.headers["Content-Type"] == "video/mp4"
        assert s.head(url, timeout=10).headers["Content-Length"] == str(len(MEDIA))
        # a path the upstream never named is still not sent upstream
        assert s.get(px.url + "/files/other.mp4", timeout=10).status_code == 404


def test_a_media_redirect_keeps_its_location(scripted: Any) -> None:
    base, routes, _ = scripted
    routes["/v2/requests/status/r2"] = (200, JSON, _status_body("r2", "{base}/v1/r2/output.mp4"))
    routes["/v1/r2/output.mp4"] = (
        302, {"Location": "{base}/cdn/r2.mp4", "Cache-Control": "no-store"}, b"",
    )  # fmt: skip
    routes["/cdn/r2.mp4"] = (200, {"Content-Type": "video/mp4"}, MEDIA[::-1])
    routes["/v1/r3/output.mp4"] = (307, {"Location": "https://cdn.example/r3.mp4"}, b"")
    with proxy(base) as px:
        s = session()
        headers = {"Ocp-Apim-Subscription-Key": KEY}
        two = s.get(px.url + "/v2/requests/status/r2", headers=headers, timeout=10).json()
        moved = s.get(two["output"]["media_url"][0], allow_redirects=False, timeout=10)
        assert moved.status_code == 302
        assert moved.headers["Location"] == px.url + "/cdn/r2.mp4"  # on the upstream: proxied
        assert moved.headers["Cache-Control"] == "no-store"
        followed = s.get(two["output"]["media_url"][0], timeout=10)
        assert followed.status_code == 200
        assert followed.content == MEDIA[::-1]
        away = s.get(px.url + "/v1/r3/output.mp4", allow_redirects=False, timeout=10)
        assert away.status_code == 307
        assert away.headers["Location"] == "https://cdn.example/r3.mp4"  # the client's to follow


# 7. an answer too large to read ----------------------------------------------------------------


def test_an_answer_over_a_mebibyte_is_a_502_never_broken_json(scripted: Any) -> None:
    base, routes, _ = scripted
    huge = json.loads(_status_body("big", "{base}/v1/big/output.mp4"))
    huge["padding"] = "x" * (1024 * 1024 + 10)
    routes["/v2/requests/status/big"] = (200, JSON, json.dumps(huge).encode())
    with proxy(base) as px:
        s = session()
        answer = s.get(
            px.url + "/v2/requests/status/big", headers={"Ocp-Apim-Subscription-Key": KEY},
            timeout=10,
        )  # fmt: skip
        assert answer.status_code == 502
        body = answer.json()
        assert body["error"] == "Bad Gateway"
        assert "too large" in body["message"]
        drifts = {d["id"] for d in s.get(px.url + "/_mock/drift", timeout=5).json()["drifts"]}
        assert "too-large:getStatus:200" in drifts


# 8. secrets ------------------------------------------------------------------------------------


def test_cookies_and_the_upstreams_password_are_never_kept_or_printed(tmp_path: Path) -> None:
    har = tmp_path / "run.har"
    with upstream(tmp_path) as up:
        secret_url = up.url.replace("http://", "http://operator:PASSWORD-4242@")
        with proxy(secret_url, "--record", str(har)) as px:
            s = session()
            answer = s.get(
                px.url + "/v2/requests/status/nope",
                headers={
                    "Ocp-Apim-Subscription-Key": KEY, "Cookie": "session=COOKIE-SECRET-1",
                    "Proxy-Authorization": "Basic PROXY-SECRET-2",
                },
                timeout=10,
            )  # fmt: skip
            assert answer.status_code in (400, 404)
            health = s.get(px.url + "/_mock/health", timeout=5).json()
            assert health["upstream"] == up.url
            journal = s.get(px.url + "/_mock/journal", timeout=5).text
            live_har = s.get(px.url + "/_mock/journal.har", timeout=5).text
            (kept,) = json.loads(journal)["entries"]
            assert kept["headers"]["Cookie"] == "****"
            code, out, err = px.stop()
    assert code == 0, err
    printed = px.first_line + out + err
    assert up.url in px.first_line
    for text in (printed, json.dumps(health), journal, live_har, har.read_text()):
        for secret in ("PASSWORD-4242", "COOKIE-SECRET-1", "PROXY-SECRET-2"):
            assert secret not in text


# 9. the operator token -------------------------------------------------------------------------


def test_the_proxys_operator_views_need_the_token_when_one_is_set(tmp_path: Path) -> None:
    token = "proxy-operator-token-1"
    with upstream(tmp_path) as up, proxy(up.url, "--operator-token", token) as px:
        s = session()
        want = operator_token_required()
        for view in ("journal", "journal.har", "drift", "spend", "health"):
            bare = s.get(f"{px.url}/_mock/{view}", timeout=5)
            assert bare.status_code == 401, view
            assert bare.json() == want.body
            assert bare.headers["WWW-Authenticate"] == want.headers["WWW-Authenticate"]
            wrong = s.get(f"{px.url}/_mock/{view}", headers={"Authorization": "Bearer nope-nope-1"},
                          timeout=5)  # fmt: skip
            assert wrong.status_code == 401
            shown = s.get(
                f"{px.url}/_mock/{view}", headers={"Authorization": f"Bearer {token}"}, timeout=5
            )
            assert shown.status_code == 200, view
        journal = s.get(
            px.url + "/_mock/journal", headers={"Authorization": f"Bearer {token}"}, timeout=5
        ).text
        code, out, err = px.stop()
    assert code == 0, err
    assert token not in journal + out + err


# 10. rewriting onto the proxy's own address ----------------------------------------------------


def test_urls_are_rewritten_onto_the_proxy_never_the_clients_host_header(tmp_path: Path) -> None:
    with upstream(tmp_path, FAST_UPSTREAM) as up, proxy(up.url, "--allow-billable") as px:
        s = session()
        accepted = generate(s, px.url, Host="evil.example")
        assert accepted.status_code == 202, accepted.text
        polling_url = accepted.json()["polling_url"]
        assert polling_url.startswith(px.url + "/v2/requests/status/")
        done = poll_until_done(s, polling_url)[-1]
        again = s.get(polling_url, headers={"Ocp-Apim-Subscription-Key": KEY,
                                            "Host": "evil.example"}, timeout=10)  # fmt: skip
        assert again.json()["output"]["media_url"][0].startswith(px.url + "/v1/")
        assert done["status"] == "COMPLETED"
        wait_for(lambda: s.get(px.url + "/_mock/spend", timeout=5).json()["unpriced"] == 0)


def test_bound_to_every_address_urls_name_the_address_the_client_reached(tmp_path: Path) -> None:
    with upstream(tmp_path) as up, proxy(up.url, "--allow-billable", "--host", "0.0.0.0") as px:
        port = px.url.rsplit(":", 1)[1]
        reached = f"http://127.0.0.1:{port}"
        accepted = generate(session(), reached, Host="evil.example")
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["polling_url"].startswith(reached + "/v2/requests/status/")


# 11. a request aiohttp cannot parse ------------------------------------------------------------


def test_a_malformed_request_line_is_a_json_400_and_no_traceback(tmp_path: Path) -> None:
    with upstream(tmp_path) as up, proxy(up.url) as px:
        host, port = px.url.removeprefix("http://").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=10) as conn:
            conn.sendall(b"GET /\x00bad HTTP/1.1 extra\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ")[1] == b"400", answer[:200]
        assert set(json.loads(body)) == {"error", "message"}
        # the proxy still serves
        assert session().get(px.url + "/_mock/health", timeout=5).status_code == 200
        code, _, err = px.stop()
    assert code == 0
    assert "Traceback" not in err
    assert "Error handling request" not in err


def test_a_relay_to_a_host_the_policy_refuses_is_blocked_without_a_lookup() -> None:
    """A job whose receiver the policy refuses (say, a job the proxy learnt of otherwise) is
    journaled ``blocked:`` by the policy's check by name, before any lookup (offline, a lookup of
    ``never.example`` would fail with another error)."""
    settings = ProxySettings(upstream="http://127.0.0.1:9")
    with proxy_in_thread(settings) as running:

        def plant() -> None:
            px = running.proxy
            px.jobs["r1"] = TrackedJob(
                request_id="r1", model_id=None, resolution=None, submitted_at=0.0,
                client_webhook="http://never.example/hook",
            )  # fmt: skip
            px.hooks["tok"] = "r1"

        running.read(plant)
        body = json.loads(_status_body("r1", "http://127.0.0.1:9/v1/r1/output.mp4"))
        answer = session().post(running.url + "/_mock/relay/tok", json=body, timeout=10)
        assert answer.status_code == 502
        (kept,) = [e for e in running.read(running.proxy.entries) if e.kind == "webhook"]
    assert kept.error == "blocked: host 'never.example' is not allowed (webhooks.allow_hosts)"
