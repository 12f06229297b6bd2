"""The bounded body reader, alone and behind every route that reads a body: a body over a bound is
a 400 naming the bound, never a 500, and the journal still reads back afterwards."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from mockgateway import ManualClock
from mockgateway._bodyparse import MAX_DEPTH, BodyError, Bounds, parse_json, parse_toml
from mockgateway.checker import check, judge_saved
from mockgateway.checker._view import as_json

from .support import GENERATE_PATH, KEY, manual_config, memory_of, served

DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 65_000 + b"1" + b"}" * 65_000
LONG_INT = b'{"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3", "n": ' + (
    b"7" * 5000 + b"}"
)
ROUTE_DEEP = b"[" * 30_000 + b"]" * 30_000  # under every route's size limit
DEEP_TOML = b"x = " + b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (DEEP_JSON, f"deeper than {MAX_DEPTH} levels"),
        (DEEP_OBJECT, f"deeper than {MAX_DEPTH} levels"),
        (LONG_INT, "a number of 5000 characters; at most 100"),
        (b'{"a": 1e999}', "a is a number out of range (1e999)"),
        (b'{"a": [1, {"b": NaN}]}', "a[1].b is NaN, which is not a JSON number"),
        (b'{"a": -Infinity}', "a is -Infinity, which is not a JSON number"),
        (b'{"a": "\\ud800"}', "lone surrogate '\\ud800'"),
        (b'{"a": "\xff"}', "not UTF-8 text (byte 7)"),
        (b'{"a": "\x00"}', "not valid JSON: Invalid control character"),
        (b"[" * 10 + b"x", "not valid JSON"),
    ],
)
def test_the_json_reader_refuses_what_is_over_a_bound_and_names_it(raw: bytes, named: str) -> None:
    with pytest.raises(BodyError, match=r"^body[ :]") as caught:
        parse_json(raw)
    assert named in str(caught.value)


def test_the_json_reader_keeps_what_is_within_the_bounds() -> None:
    nested = b'{"a":' * MAX_DEPTH + b"1" + b"}" * MAX_DEPTH
    assert parse_json(nested) is not None
    brackets_in_strings = b'{"a": "' + b"[" * 10_000 + b'", "b": "\\"{"}'
    assert parse_json(brackets_in_strings)["b"] == '"{'
    assert parse_json(b'{"n": ' + b"9" * 100 + b"}")["n"] == int("9" * 100)
    assert parse_json('{"smile": "\\ud83d\\ude00"}') == {"smile": "\U0001f600"}
    with pytest.raises(BodyError, match="over the limit of 10 bytes"):
        parse_json(b'{"a": "0123456789"}', Bounds(max_bytes=10))


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (DEEP_TOML, "deeper than 64 levels"),
        (b"x = " + b"{a = " * 5000 + b"1" + b"}" * 5000, "deeper than 64 levels"),
        (b"a" + b".a" * 100_000 + b" = 1", "dotted key of more than 64 parts"),
        (b"[" + b"a." * 40 + b"a]\n" + b"b." * 40 + b"b = 1", "deeper than 64 levels"),
        (b"seed = " + b"1" * 5000, "more than 100 digits"),
        (b"seed = 0x" + b"f" * 5000, "more than 100 digits"),
        (b"time_scale = nan", "out of range"),
        (b"x = \xff", "not UTF-8"),
        (b"x = [", "not valid TOML"),
    ],
)
def test_the_toml_reader_refuses_what_is_over_a_bound(raw: bytes, named: str) -> None:
    with pytest.raises(BodyError) as caught:
        parse_toml(raw)
    assert named in str(caught.value)


def test_the_toml_reader_ignores_brackets_and_dots_in_strings_and_comments() -> None:
    text = b'a = [1.5, 2.5]\n[x]\ny = "[[[[' + b"a." * 100 + b'"  # ]]]] ' + b"[" * 100 + b"\n"
    assert parse_toml(text) == {"a": [1.5, 2.5], "x": {"y": "[[[[" + "a." * 100}}


_ROUTES = [
    ("POST", GENERATE_PATH, "application/json"),
    ("PUT", "/_mock/scenario", "application/json"),
    ("PUT", f"/_mock/wallets/{KEY}", "application/json"),
    ("POST", "/_mock/clock/advance", "application/json"),
    ("POST", "/_mock/jobs/unknown-id/cancel", "application/json"),
]


@pytest.mark.parametrize(("method", "path", "content_type"), _ROUTES)
@pytest.mark.parametrize(
    ("raw", "named"),
    [
        (ROUTE_DEEP, "request body nests arrays or objects deeper than 64 levels"),
        (LONG_INT, "request body: n is a number of 5000 characters"),
    ],
)
async def test_every_json_body_reader_answers_400_naming_the_bound(
    method: str, path: str, content_type: str, raw: bytes, named: str
) -> None:
    async with served() as (_gw, client):
        answer = await client.request(method, path, raw=raw, headers={"Content-Type": content_type})
        assert answer.status == 400, answer.raw[:300]
        assert list(answer.body) == ["error", "message"]
        assert named in answer.body["message"]


async def test_deep_toml_on_the_scenario_is_a_400() -> None:
    async with served() as (_gw, client):
        for raw in (DEEP_TOML, b"a" + b".a" * 20_000 + b" = 1"):
            answer = await client.request(
                "PUT", "/_mock/scenario", raw=raw, headers={"Content-Type": "application/toml"}
            )
            assert answer.status == 400
            assert answer.body["error"] == "Bad Request"


async def test_the_journal_reads_back_after_hostile_bodies_and_the_checker_judges(
    tmp_path: Path,
) -> None:
    config = manual_config(server={"max_body_bytes": 1024 * 1024})
    async with served(config, clock=ManualClock(0.0)) as (gw, client):
        for raw in (DEEP_JSON, DEEP_OBJECT, LONG_INT, b'{"a": NaN}'):
            await client.request(
                "POST", GENERATE_PATH, raw=raw, headers={"Content-Type": "application/json"}
            )
            await client.request("PUT", f"/_mock/wallets/{KEY}", raw=raw, key=None)
        answer = await client.request("GET", "/_mock/journal", key=None)
        assert answer.status == 200
        entries = json.loads(answer.raw, parse_constant=lambda c: pytest.fail(c))["entries"]
        hostile = [e for e in entries if e["method"] in ("POST", "PUT")]
        assert len(hostile) == 8
        for e in hostile:
            assert e["body_unparsed"] is True
            assert isinstance(e["body"], str)
        verdict = check(list(memory_of(gw.gateway).journal))
        assert any("not JSON" in v.message for v in verdict.violations)
        saved = tmp_path / "journal.json"
        saved.write_bytes(answer.raw)
        assert judge_saved(saved).violations == verdict.violations


def test_the_checker_reads_a_hostile_text_body_as_not_json() -> None:
    assert as_json(DEEP_JSON.decode()) is None
    assert as_json(LONG_INT) is None


def test_a_saved_journal_nested_too_deep_is_refused_by_name(tmp_path: Path) -> None:
    saved = tmp_path / "deep.json"
    saved.write_bytes(b'{"entries": ' + DEEP_JSON + b"}")
    with pytest.raises(Exception, match=r"not a saved journal: .*deeper than"):
        judge_saved(saved)


async def test_a_client_that_drops_mid_body_is_journaled_as_not_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mockgateway")
    async with served() as (gw, client):
        _reader, writer = await asyncio.open_connection(gw.host, gw.port)
        writer.write(
            f"PUT /_mock/wallets/{KEY} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n".encode()
            + b'{"balance": "1'
        )
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        for _ in range(200):  # bounded: the server notices the close within a few loop turns
            entries = memory_of(gw.gateway).journal.entries()
            if entries:
                break
            await asyncio.sleep(0.01)
        assert [e.path for e in entries] == [f"/_mock/wallets/{KEY}"]
        (gone,) = entries
        assert gone.status is None
        assert gone.error is None or "Traceback" not in gone.error
        assert "client closed" in " ".join(gone.notes)
        assert (await client.admin("GET", f"wallets/{KEY}"))["balance"] == "10.00"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
