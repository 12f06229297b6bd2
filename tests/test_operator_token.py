"""The operator token and the dashboard's footprint, over HTTP on loopback: with a token every
operator route but the samples and the page's files needs ``Authorization: Bearer``; without
one nothing changes; the gateway's own routes never see the check; the dashboard's reads are not
journaled; and ``serve`` takes the token from its flag, its variable or the configuration."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mockgateway import ConfigError, GatewayConfig, config_from_mapping
from mockgateway._gateway import Gateway
from mockgateway._token import shows_token
from mockgateway.web import make_app

from .support import KEY, manual_config, served
from .test_cli_args import assert_usage_error, run_serve, start, started

TOKEN = "s3cret-operator-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
GUARDED = [
    ("GET", "/_mock/health"),
    ("GET", "/_mock/metrics"),
    ("GET", "/_mock/jobs"),
    ("GET", "/_mock/journal"),
    ("GET", "/_mock/journal.har"),
    ("GET", "/_mock/verdict"),
    ("GET", "/_mock/wallets"),
    ("GET", "/_mock/clock"),
    ("GET", "/_mock/scenario"),
    ("POST", "/_mock/reset"),
    ("POST", "/_mock/clock/advance"),
    ("PUT", f"/_mock/wallets/{KEY}"),
    ("DELETE", "/_mock/journal"),
]
OPEN = ["/_mock/samples", "/_mock/samples/portrait.png", "/_mock/ui/", "/_mock/ui/app.js"]


def guarded_config() -> GatewayConfig:
    return manual_config(server={"operator_token": TOKEN})


async def test_with_a_token_operator_routes_answer_401_without_it() -> None:
    async with served(guarded_config()) as (_gw, client):
        for method, path in GUARDED:
            for headers in (
                {},
                {"Authorization": "Bearer wrong-token-here"},
                {"Authorization": TOKEN},
            ):
                answer = await client.request(method, path, headers=headers, key=None)
                assert answer.status == 401, (method, path, headers)
                assert answer.body["error"] == "Unauthorized"
                assert "Authorization: Bearer <token>" in answer.body["message"]
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        for method, path in GUARDED:
            body = (
                {"seconds": 1}
                if "advance" in path
                else {"balance": "5"}
                if method == "PUT"
                else None
            )
            answer = await client.request(method, path, body=body, headers=BEARER, key=None)
            assert answer.status == 200, (method, path, answer.raw[:200])
        lower = await client.request(
            "GET", "/_mock/health", headers={"Authorization": f"bearer {TOKEN}"}, key=None
        )
        assert lower.status == 200  # the scheme's name is case-insensitive
        for path in OPEN:
            assert (await client.request("GET", path, key=None)).status == 200, path


async def test_the_gateways_own_routes_never_ask_for_the_token() -> None:
    async with served(guarded_config()) as (gw, client):
        submitted = await client.generate()
        assert submitted.status == 202
        request_id = submitted.body["request_id"]
        assert (await client.status(request_id)).status == 200
        await gw.advance(3)
        done = await client.status(request_id)
        [url] = done.body["output"]["media_url"]
        assert (await client.request("GET", url, key=None)).status == 200
        # the 401s are journaled (an operator sees who knocked), the token never is
        await client.request(
            "GET", "/_mock/jobs", headers={"Authorization": "Bearer guess-1234"}, key=None
        )
        journal = await client.request("GET", "/_mock/journal", headers=BEARER, key=None)
        entries = journal.body["entries"]
        assert [e["status"] for e in entries if e["path"] == "/_mock/jobs"] == [401]
        text = json.dumps(entries)
        assert TOKEN not in text
        assert "guess-1234" not in text
        assert "Bearer ****" in text


async def test_without_a_token_nothing_asks_for_one() -> None:
    async with served() as (_gw, client):
        for method, path in GUARDED:
            body = (
                {"seconds": 1}
                if "advance" in path
                else {"balance": "5"}
                if method == "PUT"
                else None
            )
            answer = await client.request(method, path, body=body, key=None)
            assert answer.status == 200, (method, path)


async def test_the_token_check_stays_off_the_status_hot_path() -> None:
    for config in (manual_config(), guarded_config()):
        gateway = Gateway(config)
        try:
            app = make_app(gateway)
        finally:
            await gateway.close()
        handlers = {r.resource.name: r.handler for r in app.router.routes() if r.resource}
        # the status route is bind()'s own wrapper around the handler: nothing in between
        status = handlers["status"]
        assert status.__wrapped__.__name__ == "status"  # type: ignore[attr-defined]
        assert handlers["generate"].__wrapped__.__name__ == "generate"  # type: ignore[attr-defined]
        assert handlers["media"].__wrapped__.__name__ == "media"  # type: ignore[attr-defined]


async def test_the_dashboards_reads_are_not_journaled_and_its_changes_are() -> None:
    async with served() as (_gw, client):
        await client.generate()
        quiet = {"X-Mock-Dashboard": "1"}
        for path in ("/_mock/jobs?limit=50", "/_mock/health", "/_mock/verdict", "/_mock/ui/"):
            assert (await client.request("GET", path, headers=quiet, key=None)).status == 200
        await client.request(
            "PUT", f"/_mock/wallets/{KEY}", body={"balance": "3"}, headers=quiet, key=None
        )
        await client.request("GET", "/_mock/wallets", key=None)  # not the page: journaled
        entries = (await client.request("GET", "/_mock/journal", headers=quiet, key=None)).body[
            "entries"
        ]
        assert [(e["method"], e["path"]) for e in entries] == [
            ("POST", "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"),
            ("PUT", f"/_mock/wallets/{KEY}"),
            ("GET", "/_mock/wallets"),
        ]


async def test_health_gives_the_newest_seq_for_reading_the_latest_entries() -> None:
    async with served() as (_gw, client):
        quiet = {"X-Mock-Dashboard": "1"}
        empty = (await client.request("GET", "/_mock/health", headers=quiet, key=None)).body
        assert empty["journal"]["last_seq"] == 0
        for _ in range(3):
            await client.generate()
        last = (await client.request("GET", "/_mock/health", headers=quiet, key=None)).body
        assert last["journal"]["last_seq"] == 3
        tail = await client.request("GET", "/_mock/journal?since=2", headers=quiet, key=None)
        assert [e["seq"] for e in tail.body["entries"]] == [3]
        read = (await client.request("GET", "/_mock/health", headers=quiet, key=None)).body
        assert read["journal"]["last_seq"] == 3  # the same once the entries are built


def test_shows_token_takes_only_bearer_and_the_exact_token() -> None:
    assert shows_token(f"Bearer {TOKEN}", TOKEN)
    assert shows_token(f"  BEARER   {TOKEN} ", TOKEN)
    assert not shows_token(None, TOKEN)
    assert not shows_token(TOKEN, TOKEN)
    assert not shows_token(f"Basic {TOKEN}", TOKEN)
    assert not shows_token(f"Bearer {TOKEN}x", TOKEN)
    assert not shows_token("Bearer", TOKEN)


@pytest.mark.parametrize("bad", ["short", "has space in it", "tab\tinside!", "é" * 10, "x" * 257])
def test_a_bad_token_in_the_configuration_names_the_key(bad: str) -> None:
    with pytest.raises(ConfigError, match=r"server\.operator_token.*8 to 256 visible ASCII"):
        config_from_mapping({"server": {"operator_token": bad}})
    assert config_from_mapping({"server": {"operator_token": ""}}).server.operator_token is None


def test_a_bad_token_flag_or_variable_is_a_usage_error_that_does_not_echo_it() -> None:
    flag = run_serve("--operator-token", "short")
    assert_usage_error(flag, "argument --operator-token", "8 to 256 visible ASCII")
    variable = run_serve(env={"MOCKGATEWAY_OPERATOR_TOKEN": "two words here"})
    assert_usage_error(variable, "MOCKGATEWAY_OPERATOR_TOKEN: ", "8 to 256")
    assert "two words" not in variable.stderr
    assert "short" not in flag.stderr.splitlines()[-1]


def _status(url: str, headers: dict[str, str]) -> int:
    request = urllib.request.Request(f"{url}/_mock/health", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_serve_takes_the_token_from_its_flag_its_variable_or_the_file(tmp_path: Path) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text('[server]\noperator_token = "from-the-file-0"\n')
    cases = [
        (["--port", "0", "--operator-token", TOKEN], {}, TOKEN),
        (["--port", "0"], {"MOCKGATEWAY_OPERATOR_TOKEN": TOKEN}, TOKEN),
        (["--port", "0", "--config", str(config)], {}, "from-the-file-0"),
        (["--port", "0", "--config", str(config), "--operator-token", TOKEN], {}, TOKEN),
    ]
    for args, env, token in cases:
        with started(*args, env=env) as url:
            assert _status(url, {}) == 401, args
            assert _status(url, {"Authorization": f"Bearer {token}"}) == 200, args


def test_serve_prints_the_dashboard_on_the_line_after_its_url() -> None:
    process, url = start("--port", "0", env={})
    try:
        assert process.stdout is not None
        second = process.stdout.readline().strip()
        assert second == f"dashboard: {url}/_mock/ui/"
        request = urllib.request.Request(second.split()[-1])
        with urllib.request.urlopen(request, timeout=10) as page:
            assert page.headers["Content-Type"].startswith("text/html")
            assert re.search(rb"<h1>mockgateway", page.read())
    finally:
        process.terminate()
        process.communicate(timeout=15)
