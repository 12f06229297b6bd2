"""Hostile requests at the edges the route corpus does not reach, over loopback.

Each sends what a client library would never send (a ``Host`` that is no host, a request target
starting ``//``, a ``Range`` of thousands of digits or of non-ASCII digits, a body whose
``Content-Encoding`` does not decode, money as a JSON number more exact than a float) and checks
the answer is the documented one, nothing is logged as an error, and the journal, its HAR export
and ``mockgateway check --journal`` still work afterwards. Bounded: a few requests each, a deadline
on every exchange.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mockgateway import ManualClock, RunningGateway

from .support import DOC_BODY, GENERATE_PATH, KEY, manual_config, served
from .test_hostile_inputs import saved_journal_is_judged

TIMEOUT = 10.0


async def exchange(gw: RunningGateway, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """One raw exchange on its own connection (``head``: the request line and headers, without
    the blank line); the status and the body."""
    reader, writer = await asyncio.open_connection(gw.host, gw.port)
    try:
        length = f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        writer.write(head + b"\r\n" + length + body)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()
    head_bytes, _, content = raw.partition(b"\r\n\r\n")
    return int(head_bytes.split()[1]), content


def _still_readable(gw_journal: bytes, tmp_path: Path) -> None:
    """The saved journal is strict JSON and the checker gives a verdict on it."""
    saved_journal_is_judged(gw_journal, tmp_path)


def test_a_host_or_target_that_is_no_url_leaves_the_journal_readable(tmp_path: Path) -> None:
    async def run() -> bytes:
        async with served() as (gw, client):
            key = f"Ocp-Apim-Subscription-Key: {KEY}".encode()
            body = json.dumps(DOC_BODY).encode()
            for head, want in [
                (b"GET //[x/ HTTP/1.1\r\nHost: 127.0.0.1", 404),
                (b"GET //a:99999999/ HTTP/1.1\r\nHost: 127.0.0.1", 404),
                (b"GET /v2/requests/status/abc HTTP/1.1\r\nHost: [x", 401),
                (b"POST " + GENERATE_PATH.encode() + b" HTTP/1.1\r\nHost: [x\r\n" + key, 202),
                (
                    b"POST " + GENERATE_PATH.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    b"X-Forwarded-Host: [x\r\n" + key,
                    202,
                ),
            ]:
                status, _ = await exchange(gw, head, body if head.startswith(b"POST") else b"")
                assert status == want, head
                journal = await client.request("GET", "/_mock/journal", key=None)
                assert journal.status == 200, journal.raw[:300]
            entries = journal.body["entries"]
            assert any(e["path"] == "//[x/" for e in entries)
            har = await client.request("GET", "/_mock/journal.har", key=None)
            assert har.status == 200, har.raw[:300]
            assert any(
                e["request"]["url"].startswith("http://[x/") for e in har.body["log"]["entries"]
            )
            return journal.raw

    _still_readable(asyncio.run(run()), tmp_path)


def test_a_range_of_odd_digits_is_ignored_or_unsatisfiable() -> None:
    async def run() -> list[tuple[int, int]]:
        async with served() as (gw, _client):
            got = []
            for spec in [
                "\u00b2-",
                "\u0665-",
                "9" * 5_000 + "-",
                "0-" + "9" * 5_000,
                "-" + "9" * 5_000,
            ]:
                head = f"GET /_mock/samples/portrait.png HTTP/1.1\r\nHost: x\r\nRange: bytes={spec}"
                status, content = await exchange(gw, head.encode())
                got.append((status, len(content)))
            return got

    (sup, sup_len), (arabic, _), (far, _), (to_far, to_far_len), (suffix, suffix_len) = asyncio.run(
        run()
    )
    assert (sup, arabic) == (200, 200)  # not a byte position: the whole file, as for no Range
    assert far == 416
    assert (to_far, suffix) == (206, 206)
    assert to_far_len == suffix_len == sup_len  # both span the whole file


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("PUT", "/_mock/wallets/k1", b""),
        ("PUT", "/_mock/scenario", b""),
        ("POST", GENERATE_PATH, f"\r\nOcp-Apim-Subscription-Key: {KEY}".encode()),
    ],
)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_does_not_decode_is_a_400(
    method: str, path: str, extra: bytes, encoding: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> tuple[int, bytes, int]:
        async with served() as (gw, client):
            head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Encoding: {encoding}"
            status, content = await exchange(gw, head.encode() + extra, b"not compressed")
            journal = await client.request("GET", "/_mock/journal", key=None)
            return status, content, journal.status

    with caplog.at_level(logging.ERROR):
        status, content, journal_status = asyncio.run(run())
    assert status == 400, content
    assert json.loads(content)["error"] == "Bad Request"
    assert f"Content-Encoding: {encoding}" in json.loads(content)["message"]
    assert journal_status == 200
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]


@pytest.mark.parametrize(
    "number", ["12345678901.1234567", "5.0000000000000001", "0.1000000000000000055511151231"]
)
def test_money_as_a_json_number_is_never_rounded(number: str) -> None:
    """A float holds about 17 digits; the body's number is judged as written, so these are
    refused for their places instead of landing as the nearest float."""

    async def run() -> tuple[int, bytes, int, bytes]:
        async with served() as (gw, _client):
            body = b'{"balance": ' + number.encode() + b"}"
            status, content = await exchange(gw, b"PUT /_mock/wallets/k1 HTTP/1.1\r\nHost: x", body)
            ok, exact = await exchange(
                gw, b"PUT /_mock/wallets/k1 HTTP/1.1\r\nHost: x", b'{"balance": 0.10}'
            )
            return status, content, ok, exact

    status, content, ok, exact = asyncio.run(run())
    assert status == 400, content
    assert "6 decimal places" in json.loads(content)["message"]
    assert number in json.loads(content)["message"]
    assert ok == 200
    assert json.loads(exact)["balance"] == "0.10"


def test_money_as_a_json_number_beside_escaped_text() -> None:
    """A surrogate escape sends the body through the check for lone surrogates, which must
    take the exact numbers money is read as."""

    async def run() -> list[tuple[int, bytes]]:
        async with served() as (gw, _client):
            head = b"PUT /_mock/wallets/k1 HTTP/1.1\r\nHost: x"
            return [
                await exchange(gw, head, b'{"balance": 1.5, "note": "\\ud83d\\ude00"}'),
                await exchange(gw, head, b'{"balance": 1.5, "note": "\\ud800"}'),
            ]

    (paired, paired_body), (lone, lone_body) = asyncio.run(run())
    assert paired == 200, paired_body
    assert json.loads(paired_body)["balance"] == "1.50"
    assert lone == 400, lone_body
    assert "lone surrogate" in json.loads(lone_body)["message"]


def test_a_chunked_body_that_never_ends_is_journaled_unanswered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The body timeout closes the connection under the handler reading the body: that is a
    client gone (status null, a note saying why), not a 500 with a traceback."""

    async def run() -> tuple[float, dict[str, object]]:
        config = manual_config(server={"body_timeout_seconds": 0.5})
        async with served(config, clock=ManualClock(1_774_951_200.0)) as (gw, client):
            reader, writer = await asyncio.open_connection(gw.host, gw.port)
            writer.write(
                b"PUT /_mock/wallets/k1 HTTP/1.1\r\nHost: x\r\n"
                b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"bal\r\n'
            )
            started = time.monotonic()
            try:
                for _ in range(50):  # a byte every 0.1 s, for at most 5 s
                    writer.write(b"1\r\na\r\n")
                    await writer.drain()
                    if reader.at_eof() or await _closed(reader):
                        break
            except ConnectionError:
                pass
            elapsed = time.monotonic() - started
            writer.close()
            for _ in range(50):
                entries = (await client.request("GET", "/_mock/journal", key=None)).body["entries"]
                puts = [e for e in entries if e["method"] == "PUT"]
                if puts:
                    return elapsed, puts[0]
                await asyncio.sleep(0.05)
            raise AssertionError("the request was never journaled")

    with caplog.at_level(logging.ERROR):
        elapsed, entry = asyncio.run(run())
    assert elapsed < 3.0
    assert entry["status"] is None
    assert entry["error"] is None
    assert any("body_timeout_seconds" in note for note in entry["notes"]), entry  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]


async def _closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closed the connection within 0.1 s (it sends nothing else)."""
    try:
        return await asyncio.wait_for(reader.read(1), 0.1) == b""
    except TimeoutError:
        return False


def test_polls_with_made_up_keys_open_no_wallets() -> None:
    """In the open key mode every key is valid, but only a key that submits needs a wallet: a
    client polling with a new 8 KB key each time must not grow the gateway by a wallet each."""

    async def run() -> tuple[list[int], int, int]:
        async with served() as (_gw, client):
            before = len((await client.admin("GET", "wallets"))["wallets"])
            statuses = []
            for i in range(200):
                answer = await client.status("no-such-id", key=f"{i:04d}" + "k" * 8_000)
                statuses.append(answer.status)
            after = len((await client.admin("GET", "wallets"))["wallets"])
            return statuses, before, after

    statuses, before, after = asyncio.run(run())
    assert set(statuses) == {404}
    assert after == before


def test_header_bytes_that_are_not_utf8_leave_answers_and_the_journal_valid_unicode(
    tmp_path: Path,
) -> None:
    """aiohttp reads such bytes as lone surrogates; written back as JSON they are escapes like
    \\udcff that strict readers, the checker's among them, refuse. Answers and the journal carry
    U+FFFD instead."""

    async def run() -> tuple[list[bytes], bytes, bytes]:
        async with served() as (gw, client):
            answers = []
            for head in [
                b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nX-Odd: \xff\xfe",
                b"GET /v2/requests/status/x HTTP/1.1\r\nHost: x\r\n"
                b"Ocp-Apim-Subscription-Key: ab\xffcd\xfe",
                b"POST " + GENERATE_PATH.encode() + b" HTTP/1.1\r\nHost: x\r\n"
                b"Ocp-Apim-Subscription-Key: k\xff\r\nX-Forwarded-Host: h\xff",
                b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nX-Mock-Scenario: \xff",
            ]:
                body = json.dumps(DOC_BODY).encode() if head.startswith(b"POST") else b""
                _status, content = await exchange(gw, head, body)
                answers.append(content)
            wallets = await client.request("GET", "/_mock/wallets", key=None)
            journal = await client.request("GET", "/_mock/journal", key=None)
            return answers, wallets.raw, journal.raw

    answers, wallets, journal = asyncio.run(run())
    for raw in [*answers, wallets, journal]:
        text = json.loads(raw)
        json.dumps(text, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
    assert "h\ufffd" in json.loads(answers[2])["polling_url"]
    assert "\ufffd" in journal.decode("unicode_escape")  # the odd bytes are marked, not dropped
    _still_readable(journal, tmp_path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (b"x = " + b"[" * 100_000 + b"]" * 100_000, "deeper than 64 levels"),
        (b"[server]\nport = " + b"9" * 5_000, "more than 100 digits"),
        (b'x = "\xff"', "not UTF-8 text"),
    ],
)
@pytest.mark.parametrize("command", ["serve", "check"])
def test_a_hostile_configuration_file_is_a_configuration_error(
    tmp_path: Path, text: bytes, says: str, command: str
) -> None:
    """Exit status 2 and a message naming the file, as for any bad file; never a traceback."""
    path = tmp_path / "hostile.toml"
    path.write_bytes(text)
    journal = tmp_path / "journal.json"
    journal.write_text('{"entries": []}')
    extra = ["--port", "0"] if command == "serve" else ["--journal", str(journal)]
    done = subprocess.run(
        [sys.executable, "-m", "mockgateway", command, "--config", str(path), *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"configuration error: {path}: " in done.stderr
    assert says in done.stderr


def test_advancing_the_clock_lets_an_answer_held_on_it_go() -> None:
    """An answer held by a response delay is let go by the advance that reaches its time: a caller
    advancing until nothing waits gets it, rather than waiting for ever on a gateway that never
    yields (a scenario that was accepted must be servable)."""

    async def run() -> tuple[int, int]:
        async with served() as (gw, client):
            scenario = {"delays": {"response": {"kind": "fixed", "seconds": 1.0}}}
            put = await client.request("PUT", "/_mock/scenario", body=scenario, key=None)
            assert put.status == 200, put.raw
            pending = asyncio.ensure_future(client.generate())
            for moves in range(20):
                for _ in range(500):  # loopback I/O catching up, at most 5 s
                    if pending.done() or gw.gateway.waiting:
                        break
                    await asyncio.sleep(0.01)
                if pending.done():
                    return (await pending).status, moves
                await gw.advance(2.0)
            pending.cancel()
            raise AssertionError("the answer was still held after 20 moves of the clock")

    status, moves = asyncio.run(run())
    assert status == 202
    assert moves == 1
