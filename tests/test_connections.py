"""Connections over real loopback sockets: the connection limit, read deadlines, and the JSON 400
for requests aiohttp rejects before routing.

The deadlines here are real (a fraction of a second, set for these tests only): they bound how
long a socket may dribble, which no gateway clock governs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mockgateway import ConfigError, config_from_mapping
from mockgateway._connections import connection_limit

from .support import manual_config, served

SLOW = 50  # slow connections, exactly the configured limit


def limited(**server: object) -> object:
    return manual_config(
        server={
            "max_connections": SLOW,
            "header_timeout_seconds": 0.5,
            "body_timeout_seconds": 0.5,
            **server,
        }
    )


async def _exchange(port: int, raw: bytes, timeout: float = 10.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()


def _json_answer(raw: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json" in head.lower(), head
    return status, json.loads(body)


async def _slowloris(port: int, stop: asyncio.Event) -> bool:
    """Send a request's headers a byte at a time, every 50 ms, until closed; True if the
    gateway closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /_mock/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        while not stop.is_set():
            try:
                writer.write(b"X")
                await writer.drain()
            except ConnectionError:
                return True
            try:
                if await asyncio.wait_for(reader.read(1), 0.05) == b"":
                    return True
            except TimeoutError:
                pass
            except ConnectionError:
                return True
        return False
    finally:
        writer.close()


async def test_slow_clients_are_timed_out_and_a_fresh_client_is_answered(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG - 1)
    async with served(limited()) as (gw, client):
        stop = asyncio.Event()
        slow = [asyncio.ensure_future(_slowloris(gw.port, stop)) for _ in range(SLOW)]
        await asyncio.sleep(0.1)  # every slot is taken
        began = time.monotonic()
        answer = await asyncio.wait_for(client.request("GET", "/_mock/health", key=None), 10)
        waited = time.monotonic() - began
        try:  # every one is closed by the gateway, not by giving up
            closed = await asyncio.wait_for(asyncio.gather(*slow), 10)
        finally:
            stop.set()
    assert answer.status == 200
    assert waited < 5
    assert all(closed), "a connection dribbling its headers was never closed"
    noisy = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(noisy) <= 2, [r.getMessage() for r in noisy]


async def test_beyond_the_limit_a_connection_waits_rather_than_failing() -> None:
    async with served(limited(header_timeout_seconds=30.0)) as (gw, client):
        held = [await asyncio.open_connection("127.0.0.1", gw.port) for _ in range(SLOW)]
        try:
            waiting = asyncio.ensure_future(client.request("GET", "/_mock/health", key=None))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # queued in the listen backlog, not refused
            held[0][1].close()  # one slot frees
            answer = await asyncio.wait_for(waiting, 10)
        finally:
            for _reader, writer in held:
                writer.close()
    assert answer.status == 200


async def test_a_body_that_trickles_is_cut_off() -> None:
    async with served(limited()) as (gw, _client):
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(
            b"PUT /_mock/scenario HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1000\r\n\r\n{"
        )
        await writer.drain()
        began = time.monotonic()
        rest = await asyncio.wait_for(reader.read(), 10)
        writer.close()
    assert time.monotonic() - began < 5
    assert b"200 OK" not in rest


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"NOT AN HTTP REQUEST\r\n\r\n", "malformed HTTP request"),
        (
            b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 9000 + b"\r\n\r\n",
            "8190 bytes",
        ),
        (b"GET /_mock/health HTTP/1.1\r\nHo\x01st: x\r\n\r\n", "malformed HTTP request"),
        (b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", "Length"),
    ],
    ids=["request-line", "oversize-header", "bad-header-bytes", "bad-content-length"],
)
async def test_requests_aiohttp_rejects_get_the_gateway_s_json_400(raw: bytes, said: str) -> None:
    async with served() as (gw, _client):
        status, body = _json_answer(await _exchange(gw.port, raw))
    assert status == 400
    assert body["error"] == "Bad Request"
    assert isinstance(body["message"], str)
    assert said in body["message"]
    assert set(body) == {"error", "message"}


def test_the_default_limit_stays_below_the_open_files_limit() -> None:
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert 0 < connection_limit() < soft
    assert connection_limit(50) == 50


def test_server_limits_are_read_and_checked() -> None:
    config = config_from_mapping(
        {"server": {"header_timeout_seconds": 2, "max_connections": 10}}, "limits.toml"
    )
    assert config.server.header_timeout_seconds == 2.0
    assert config.server.body_timeout_seconds == 30.0
    assert config.server.max_connections == 10
    with pytest.raises(
        ConfigError,
        match=r"header_timeout_seconds.*limits\.toml|limits\.toml.*header_timeout_seconds",
    ):
        config_from_mapping({"server": {"header_timeout_seconds": 0}}, "limits.toml")


async def test_out_of_descriptors_the_gateway_keeps_serving_without_a_log_storm(
    tmp_path: Path,
) -> None:
    """The limit configured above what the process may open (128 descriptors): accepting fails
    with "Too many open files" for a while, which is said once, and serving goes on."""
    config = tmp_path / "tight.toml"
    config.write_text(
        "[server]\nmax_connections = 1000\nheader_timeout_seconds = 0.5\n"
        "body_timeout_seconds = 0.5\n"
    )

    def tight() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 128))

    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "mockgateway", "serve", "--port", "0", "--config", str(config)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=tight,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 30)
        port = int(line.split()[-1].rsplit(b":", 1)[1])
        stop = asyncio.Event()
        slow = [asyncio.ensure_future(_slowloris(port, stop)) for _ in range(250)]
        await asyncio.sleep(0.3)
        began = time.monotonic()
        answer = await asyncio.wait_for(
            _exchange(port, b"GET /_mock/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            15,
        )
        waited = time.monotonic() - began
        stop.set()
        await asyncio.wait_for(asyncio.gather(*slow, return_exceptions=True), 15)
    finally:
        process.terminate()
        _out, err = await asyncio.wait_for(process.communicate(), 30)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    assert waited < 10
    assert err.count(b"Too many open files") == 1, err[-2000:]  # said once
    assert len(err.splitlines()) <= 3, err[-2000:]


async def test_at_the_limit_an_idle_keep_alive_connection_makes_room() -> None:
    """Connections kept open between requests (a client's pool) do not lock a new client out
    for the keep-alive time: the one idle the longest is closed for it."""
    config = limited(header_timeout_seconds=30.0, keepalive_timeout_seconds=600.0)
    async with served(config) as (gw, client):
        pooled = []
        for _ in range(SLOW):
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
            writer.write(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
            pooled.append((reader, writer))
        try:
            answer = await asyncio.wait_for(client.request("GET", "/_mock/health", key=None), 5)
        finally:
            for _reader, writer in pooled:
                writer.close()
    assert answer.status == 200
