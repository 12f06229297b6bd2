"""The operator API against hostile or careless input, over HTTP on loopback: undecodable bytes
in ``Authorization`` are the documented 401, never a 500; no credential text reaches the journal
or its HAR; the verdict's answer stays bounded however many jobs there are, and an unchanged
verdict is a 304, not judged again."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest

from mockgateway._journal import redact_headers
from mockgateway.web import _admin_verdict

from .support import KEY, manual_config, served
from .test_operator_token import GUARDED, TOKEN

HOSTILE = b"Bearer \xff\xfe\xe9abc"  # not UTF-8: aiohttp hands it on as surrogates


async def raw_request(url: str, method: str, path: str, authorization: bytes) -> tuple[int, bytes]:
    """One request written byte for byte on a socket; the status and the body of its answer."""
    where = urlsplit(url)
    reader, writer = await asyncio.open_connection(where.hostname, where.port)
    try:
        writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {where.netloc}\r\n".encode()
            + b"Authorization: "
            + authorization
            + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=30)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


async def test_undecodable_authorization_bytes_are_a_401_on_every_guarded_route(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with served(manual_config(server={"operator_token": TOKEN})) as (running, _client):
        for method, path in GUARDED:
            for value in (HOSTILE, b"\xff\xfe", b"Bearer " + TOKEN.encode() + b"\xe9"):
                status, body = await raw_request(running.url, method, path, value)
                assert status == 401, (method, path, value, body[:300])
                assert json.loads(body)["error"] == "Unauthorized"
    assert not [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_redacting_keeps_only_a_known_scheme_and_no_credential() -> None:
    sent = {
        "Authorization": "SecretTok123",
        "authorization": "Bearer abc.def",
        "AUTHORIZATION": "Token a b c",
        "X-Other": "kept",
        "Cookie": "session=s3cr3t",
        "Proxy-Authorization": "Basic dXNlcjpwYXNz",
        "Ocp-Apim-Subscription-Key": "abcdefgh1234",
    }
    kept = redact_headers(sent)
    assert kept == {
        "Authorization": "****",  # a bare token is all credential
        "authorization": "Bearer ****",
        "AUTHORIZATION": "****",  # not one credential after a scheme: all of it hidden
        "X-Other": "kept",
        "Cookie": "****",
        "Proxy-Authorization": "****",
        "Ocp-Apim-Subscription-Key": "****1234",
    }
    assert redact_headers(kept) == kept  # redacting again changes nothing
    assert redact_headers({"Authorization": "Basic dXNlcjpwYXNz"}) == {
        "Authorization": "Basic ****"
    }


async def test_no_credential_text_reaches_the_journal_or_its_har() -> None:
    secrets = {
        "Authorization": "SecretTok123",
        "Cookie": "session=Cookie5ecret; other=Cookie6ecret",
        "Proxy-Authorization": "Basic UHJveHk1ZWNyZXQ=",
    }
    async with served() as (_gw, client):
        await client.generate(headers=secrets)
        await client.request("GET", "/_mock/health", headers=secrets, key=None)
        await client.request(
            "GET", "/_mock/health", headers={"Authorization": "Bearer Bearer5ecret"}, key=None
        )
        journal = await client.request("GET", "/_mock/journal", key=None)
        har = await client.request("GET", "/_mock/journal.har", key=None)
    for text in (journal.raw.decode(), har.raw.decode()):
        for secret in ("SecretTok123", "Cookie5ecret", "Cookie6ecret", "UHJveHk1ZWNyZXQ", "5ecret"):
            assert secret not in text, secret
    headers = [e["headers"] for e in journal.body["entries"] if e["path"] == "/_mock/health"]
    assert headers[0]["Authorization"] == "****"
    assert headers[0]["Cookie"] == "****"
    assert headers[0]["Proxy-Authorization"] == "****"
    assert headers[1]["Authorization"] == "Bearer ****"


async def test_the_verdict_is_bounded_and_an_unchanged_one_is_a_304_not_judged_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    judged: list[int] = []
    real_check = _admin_verdict.check

    def counting(*args: Any, **kwargs: Any) -> Any:
        judged.append(1)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(_admin_verdict, "check", counting)
    quiet = {"X-Mock-Dashboard": "1"}  # the page's reads: not journaled, so nothing moves
    jobs = 300
    async with served() as (_gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100000"})
        for _ in range(jobs):
            request_id = (await client.generate()).body["request_id"]
            for _ in range(2):  # polled at once, twice: closer than the documented 5 s
                await client.status(request_id)
        first = await client.request("GET", "/_mock/verdict", headers=quiet, key=None)
        assert first.status == 200
        assert len(first.raw) < 200_000, len(first.raw)
        [rule] = [r for r in first.body["rules"] if r["id"] == "poll-interval"]
        assert rule["violations_total"] == jobs
        assert len(rule["violations"]) == _admin_verdict.VIOLATIONS_SHOWN
        shown = sum(len(v["evidence"]) for v in rule["violations"])
        assert shown <= _admin_verdict.EVIDENCE_SHOWN + _admin_verdict.VIOLATIONS_SHOWN
        assert all(v["evidence_total"] >= len(v["evidence"]) for v in rule["violations"])
        assert first.body["cost"]["jobs"] == jobs
        assert first.body["cost"]["per_job_total"] == jobs
        assert len(first.body["cost"]["per_job"]) == _admin_verdict.JOBS_SHOWN
        etag = first.headers["ETag"]
        assert judged == [1]
        for _ in range(3):
            same = await client.request(
                "GET", "/_mock/verdict", headers={**quiet, "If-None-Match": etag}, key=None
            )
            assert (same.status, same.raw, same.headers["ETag"]) == (304, b"", etag)
        again = await client.request("GET", "/_mock/verdict", headers=quiet, key=None)
        assert (again.status, again.headers["ETag"]) == (200, etag)
        assert judged == [1]  # neither the 304s nor the same verdict were judged again
        await client.generate()  # the journal moved
        moved = await client.request(
            "GET", "/_mock/verdict", headers={**quiet, "If-None-Match": etag}, key=None
        )
        assert moved.status == 200
        assert moved.headers["ETag"] != etag
        assert moved.body["cost"]["jobs"] == jobs + 1
        assert judged == [1, 1]
