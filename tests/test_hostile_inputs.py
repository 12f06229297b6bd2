"""Hostile input against every route of the vendor API and the operator API, over loopback.

A corpus of hostile bodies, headers and paths goes to every route the app registers, on raw
sockets (so nothing is cleaned up by a client library on the way). Every answer must be below 500
(no scenario is active, so nothing is injected), every error must be JSON in one of the two
documented shapes, and afterwards the journal must read back as strict JSON and be judged by
``mockgateway check --journal``. Bounded: a fixed corpus, a deadline per request and for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockgateway import ManualClock, RunningGateway
from mockgateway._gateway import Gateway
from mockgateway.web import make_app

from .support import DOC_BODY, GENERATE_PATH, KEY, MODEL_ID, OPERATION, manual_config, served

REQUEST_TIMEOUT = 10.0
RUN_DEADLINE = 240.0  # the whole corpus, real seconds
MEBI = 1024 * 1024

BODIES: dict[str, tuple[bytes, str]] = {
    "deep json array": (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    "deep json object": (b'{"a":' * 65_000 + b"1" + b"}" * 65_000, "application/json"),
    "deep toml": (b"x = " + b"[" * 100_000 + b"]" * 100_000, "application/toml"),
    "deep toml tables": (b"x = " + b"{a = " * 5_000 + b"1" + b"}" * 5_000, "application/toml"),
    "dotted toml key": (b"a" + b".a" * 50_000 + b" = 1", "application/toml"),
    "huge toml int": (b"seed = " + b"9" * 5_000, "application/toml"),
    "huge int": (b'{"balance": ' + b"9" * 5_000 + b', "seconds": 1, "x": 1}', "application/json"),
    "huge float": (b'{"balance": 1e999, "seconds": 1e999}', "application/json"),
    "nan": (b'{"balance": NaN, "seconds": NaN, "message": NaN}', "application/json"),
    "infinity": (b'{"seconds": -Infinity}', "application/json"),
    "invalid utf-8": (b'{"image_url": "\xff\xfe\xfd", "message": "\xc3\x28"}', "application/json"),
    "lone surrogate": (b'{"message": "\\ud800", "balance": "\\udfff"}', "application/json"),
    "non-object": (b'["image_url", "audio_url"]', "application/json"),
    "bare string": (b'"just a string"', "application/json"),
    "1 MiB string": (b'{"message": "' + b"x" * MEBI + b'"}', "application/json"),
    "null bytes": (b'{"message": "a\x00b"}\x00', "application/json"),
    "binary": (bytes(range(256)) * 64, "application/octet-stream"),
    "documented generate body": (json.dumps(DOC_BODY).encode(), "application/json"),
}

HEADERS: dict[str, list[tuple[str, str]]] = {
    "huge header value": [("X-Filler", "v" * 8_000)],
    "huge key": [("Ocp-Apim-Subscription-Key", "k" * 8_000)],
    "odd key": [("Ocp-Apim-Subscription-Key", "k\u00e9y\u00ff")],
    "empty key": [("Ocp-Apim-Subscription-Key", "")],
    "two keys": [("Ocp-Apim-Subscription-Key", KEY), ("Ocp-Apim-Subscription-Key", "other")],
    "mock scenario key": [("Ocp-Apim-Subscription-Key", "mock-no-such-scenario")],
    "unknown scenario header": [("X-Mock-Scenario", "\u00ff" * 100)],
    "odd webhook": [("X-Webhook-URL", "http://[::1")],
    "odd content type": [("Content-Type", "application/json; charset=utf-32")],
    "forwarded": [("X-Forwarded-Host", "\u00ff" * 300), ("X-Forwarded-Proto", "gopher")],
}

# Content-Length values with the body they come with; aiohttp refuses the malformed ones before
# routing, a short body is a client gone mid-body.
BAD_LENGTHS: dict[str, tuple[str, bytes]] = {
    "not a number": ("abc", b"{}"),
    "negative": ("-1", b"{}"),
    "two lengths": ("2, 3", b"{}"),
    "longer than the body": ("5000", b'{"balance": "1"'),
    "huge": ("99999999999999999999999", b"{}"),
}

PATH_TAILS = [
    "%00",
    "%ff%fe",
    "..%2f..%2f..%2fetc%2fpasswd",
    "a" * 4_000,
    "%F0%9F%98%80",
    "%ED%A0%80",  # an encoded lone surrogate
    "x?since=" + "9" * 5_000,
]
QUERIES = [
    "?since=" + "9" * 5_000,
    "?since=-1",
    "?since=1e5",
    "?since=%00",
    "?status=%ff",
    "?status=" + "Q" * 4_000,
    "?" + "&".join(f"k{i}=v" for i in range(500)),
]


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


def _routes() -> list[tuple[str, str]]:
    """(method, path template) of every route the app registers, HEAD and the catch-all aside."""
    app = make_app(Gateway(manual_config()))
    return [
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None and r.resource.name != "unknown"
    ]


def _fill(template: str, request_id: str) -> Iterator[str]:
    """Concrete paths for a template: valid values, and unknown ones."""
    values = {
        "model_id": [MODEL_ID, "no-such-model"],
        "operation": [OPERATION, "nope"],
        "request_id": [request_id, "no-such-id"],
        "filename": ["output.mp4", "x.mp4"],
        "name": ["portrait.png", "no-such-sample"],
        "key": [KEY, "k" * 3_000],
        "command": ["advance", "self-destruct"],
        "file": ["app.js", "no-such-file.js"],
    }
    names = re.findall(r"{(\w+)}", template)
    for i in range(2):
        path = template
        for name in names:
            path = path.replace("{" + name + "}", values[name][i])
        yield path


async def send(
    gw: RunningGateway,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    *,
    length: str | None = None,
) -> Reply | None:
    """One raw HTTP/1.1 exchange on its own connection; None when the server sent nothing."""
    reader, writer = await asyncio.open_connection(gw.host, gw.port)
    try:
        head = [f"{method} {target} HTTP/1.1", f"Host: {gw.host}:{gw.port}", "Connection: close"]
        head += [f"{n}: {v}" for n, v in headers]
        head.append(f"Content-Length: {len(body) if length is None else length}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("utf-8") + body)
        await writer.drain()
        if length is not None and length.isdigit() and int(length) > len(body):
            writer.write_eof()  # the rest never comes
        raw = await asyncio.wait_for(reader.read(), REQUEST_TIMEOUT)
    except ConnectionError:
        return None
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    if not raw:
        return None
    head_bytes, _, content = raw.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    parsed = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Reply(status, parsed, content)


def _problem(reply: Reply, *, ours: bool = True) -> str | None:
    """What is wrong with one answer, or None."""
    if reply.status >= 500:
        return f"answered {reply.status}: {reply.body[:300]!r}"
    if reply.status < 400 or not ours:
        return None
    if not reply.headers.get("content-type", "").startswith("application/json"):
        return f"error {reply.status} is not JSON: {reply.headers}"
    try:
        body = json.loads(reply.body, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except ValueError as exc:
        return f"error {reply.status} body is not strict JSON ({exc}): {reply.body[:200]!r}"
    if not isinstance(body, dict):
        return f"error {reply.status} body is not an object: {body!r}"
    gateway = set(body) == {"error", "message"} and all(isinstance(v, str) for v in body.values())
    apim = (
        set(body) == {"statusCode", "message"}
        and body["statusCode"] == reply.status
        and isinstance(body["message"], str)
    )
    if not (gateway or apim):
        return f"error {reply.status} body is in neither documented shape: {body!r}"
    return None


async def _request_id(gw: RunningGateway) -> str:
    reply = await send(
        gw,
        "POST",
        GENERATE_PATH,
        [("Ocp-Apim-Subscription-Key", KEY), ("Content-Type", "application/json")],
        json.dumps(DOC_BODY).encode(),
    )
    assert reply is not None
    assert reply.status == 202
    request_id: str = json.loads(reply.body)["request_id"]
    return request_id


async def _corpus(gw: RunningGateway) -> tuple[int, list[str]]:
    problems: list[str] = []
    statuses: Counter[int | None] = Counter()
    sent = 0
    started = time.monotonic()
    request_id = await _request_id(gw)
    key = [("Ocp-Apim-Subscription-Key", KEY)]

    async def one(method: str, target: str, headers: list[tuple[str, str]], body: bytes = b"",
                  *, length: str | None = None, ours: bool = True, what: str = "") -> None:  # fmt: skip
        nonlocal sent
        assert time.monotonic() - started < RUN_DEADLINE, "the corpus ran past its deadline"
        sent += 1
        reply = await send(gw, method, target, headers, body, length=length)
        statuses[None if reply is None else reply.status] += 1
        if reply is None:
            return  # nothing answered: only for a client gone mid-body, checked in the journal
        problem = _problem(reply, ours=ours)
        if problem:
            problems.append(f"{method} {target[:80]} [{what}]: {problem}")

    for method, template in _routes():
        for path in _fill(template, request_id):
            for name, (body, content_type) in BODIES.items():
                await one(method, path, [*key, ("Content-Type", content_type)], body, what=name)
            for name, extra in HEADERS.items():
                await one(method, path, extra, json.dumps(DOC_BODY).encode(), what=name)
            for query in QUERIES:
                await one(method, path + query, key, what=query[:20])
        # aiohttp refuses a malformed Content-Length before any route: only "no 5xx" is ours
        for name, (length, body) in BAD_LENGTHS.items():
            path = next(_fill(template, request_id))
            await one(method, path, key, body, length=length, ours=False, what=name)
    for tail in PATH_TAILS:
        for prefix in ("/", "/_mock/", "/v2/requests/status/", "/_mock/jobs/", "/v1/"):
            for method in ("GET", "POST", "PUT", "DELETE"):
                await one(method, prefix + tail, key, b"{}", what="path")
    assert statuses[400] > 100  # the corpus reached the readers, not just the router
    return sent, problems


def test_every_route_survives_the_hostile_corpus(tmp_path: Path) -> None:
    async def run() -> tuple[int, list[str], bytes, dict[str, object]]:
        config = manual_config(
            server={"max_body_bytes": 2 * MEBI},
            keys={"mode": "strict", "accounts": [{"key": KEY, "balance": "1000.00"}]},
        )
        async with served(config, clock=ManualClock(1_774_951_200.0)) as (gw, client):
            sent, problems = await asyncio.wait_for(_corpus(gw), RUN_DEADLINE)
            journal = await client.request("GET", "/_mock/journal", key=None)
            assert journal.status == 200
            health = await client.admin("GET", "health")
            return sent, problems, journal.raw, health

    sent, problems, saved, health = asyncio.run(run())
    assert sent > 1_000
    assert not problems, "\n".join(problems[:40])
    data = json.loads(saved, parse_constant=lambda c: pytest.fail(f"journal holds {c}"))
    assert data["entries"]
    journal = health["journal"]
    assert isinstance(journal, dict)
    assert journal["bytes"] <= journal["max_bytes"]
    saved_journal_is_judged(saved, tmp_path)


def saved_journal_is_judged(saved: bytes, tmp_path: Path) -> None:
    """The saved journal is strict JSON and ``mockgateway check --journal`` gives a verdict."""
    json.loads(saved, parse_constant=lambda c: pytest.fail(f"journal holds {c}"))
    path = tmp_path / "journal.json"
    path.write_bytes(saved)
    done = subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--journal", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), (done.returncode, done.stderr[-2000:])
    assert done.stdout.strip()  # a verdict


def test_the_route_list_covers_both_documents() -> None:
    """The routes driven above are every path of both OpenAPI documents."""
    from mockgateway import contract

    documented = set()
    for document in (contract.load_openapi(), contract.load_operator_openapi()):
        for path, operations in document["paths"].items():
            for method in operations:
                if method in ("get", "post", "put", "delete"):
                    documented.add((method.upper(), path))
    patterns = [(m, re.compile(re.sub(r"{\w+}", "[^/]+", p) + "$")) for m, p in _routes()]
    undriven = {
        (method, path)
        for method, path in documented
        if not any(
            m == method and pattern.match(re.sub(r"{\w+}", "x", path)) for m, pattern in patterns
        )
    }
    assert not undriven
