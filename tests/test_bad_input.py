"""Bad generate requests: each gets a 400 in the gateway's shape whose message names the problem."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from mockgateway import config_from_mapping

from .support import DOC_BODY, GENERATE_PATH, KEY, memory_of, served

CASES = [
    (b"{not json", "not valid JSON"),
    (b"", "request body is empty"),
    (b"[1, 2]", "must be a JSON object"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"audio_url": "https://a.test/a.mp3"}', "image_url is required"),
    (b'{"image_url": "https://a.test/i.png"}', "audio_url is required"),
    (b'{"image_url": 5, "audio_url": "https://a.test/a.mp3"}', "image_url must be a string"),
    (b'{"image_url": "https://a.test/i.png", "audio_url": null}', "audio_url must be a string"),
    (b'{"image_url": "", "audio_url": "https://a.test/a.mp3"}', "image_url must not be empty"),
    (b'{"image_url": "face.png", "audio_url": "https://a.test/a.mp3"}', "image_url must be an abs"),
    (
        b'{"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3", "resolution": "4k"}',
        'resolution must be one of "720p", "1080p", "480p"; got \'4k\'',
    ),
    (
        b'{"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3", "resolution": 720}',
        "resolution must be a string",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
async def test_bad_body_gets_400_naming_the_problem(raw: bytes, expected: str) -> None:
    async with served() as (gw, client):
        answer = await client.request(
            "POST", GENERATE_PATH, raw=raw, headers={"Content-Type": "application/json"}
        )
        assert answer.status == 400
        assert list(answer.body) == ["error", "message"]
        assert answer.body["error"] == "Bad Request"
        assert expected in answer.body["message"]
        assert memory_of(gw.gateway).jobs == {}


@pytest.mark.parametrize("url", ["/relative/hook", "ftp://h.test/x", "not a url", "http://"])
async def test_non_absolute_webhook_url_is_400(url: str) -> None:
    async with served() as (_gw, client):
        answer = await client.generate(headers={"X-Webhook-URL": url})
        assert answer.status == 400
        assert "X-Webhook-URL" in answer.body["message"]


async def test_body_over_the_size_limit_is_400_naming_the_limit() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "server": {"max_body_bytes": 1024}})
    async with served(config) as (_gw, client):
        body = dict(DOC_BODY, padding="x" * 2000)
        answer = await client.generate(body)
        assert answer.status == 400
        assert "over the limit of 1024 bytes" in answer.body["message"]


async def test_undocumented_fields_are_accepted_and_journaled() -> None:
    async with served() as (gw, client):
        answer = await client.generate(dict(DOC_BODY, prompt="smile", turbo_mode=True))
        assert answer.status == 202
        entry = next(e for e in memory_of(gw.gateway).journal if e.route == "generate")
        # the doc's URLs add the offline policy's stand-in notes after this one
        assert entry.notes[0] == "undocumented fields ignored: prompt, turbo_mode"


async def test_missing_resolution_defaults_to_1080p() -> None:
    async with served() as (gw, client):
        body = {k: v for k, v in DOC_BODY.items() if k != "resolution"}
        rid = (await client.generate(body)).body["request_id"]
        assert memory_of(gw.gateway).jobs[rid].resolution == "1080p"


async def _chunked_generate(host: str, port: int, body: bytes) -> tuple[int, dict[str, Any]]:
    """POST a generate whose body is chunked (no Content-Length), sent whole with its headers."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"POST {GENERATE_PATH} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Ocp-Apim-Subscription-Key: {KEY}\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n"
        ).encode()
        writer.write(head + f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n")
        answer = await reader.readuntil(b"\r\n\r\n")
        length = int(answer.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        return int(answer[9:12]), json.loads(await reader.readexactly(length))
    finally:
        writer.close()


async def test_a_chunked_body_that_arrives_whole_is_bounded_too() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "server": {"max_body_bytes": 1024}})
    async with served(config) as (gw, _client):
        fits = json.dumps(DOC_BODY).encode()
        status, body = await _chunked_generate(gw.host, gw.port, fits)
        assert status == 202, body
        over = json.dumps(dict(DOC_BODY, padding="x" * 2000)).encode()
        status, body = await _chunked_generate(gw.host, gw.port, over)
        assert status == 400
        assert body["message"] == "request body is over the limit of 1024 bytes"
        assert len(memory_of(gw.gateway).jobs) == 1
