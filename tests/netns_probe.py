"""Run inside a loopback-only network namespace by ``tests/test_netns.py``: hostile URLs at the
gateway's every outbound path, under ``strace``.

Names resolve through the namespace's own hosts file (see ``HOSTS``), so ``localhost``,
``evil.localhost`` and friends point at private addresses exactly as a hostile resolver would.
Writes one JSON object per case (what was tried and what came of it) to the file named on the
command line; the test reads it and the strace log.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from mockgateway import ManualClock, config_from_mapping, serve
from mockgateway.media import Fetcher, InputPolicy, InputRejected, InputsConfig, sample_bytes
from tests import media_support as ms
from tests.support import Client, memory_of

HOSTS = """\
127.0.0.1 good.test
10.0.0.1 evil.localhost private.test
10.0.0.2 localhost localhost.
169.254.169.254 metadata.test
::ffff:10.0.0.1 mapped.test
fd00::1 ula.test
2002:7f00:1:: sixtofour.test
"""

# Every one of these must be refused wherever it appears: as a URL, or as a redirect's target.
HOSTILE = [
    "http://10.0.0.1/a.png",
    "http://[::ffff:10.0.0.1]/a.png",
    "http://[::ffff:a9fe:a9fe]/latest/meta-data",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0:PORT/a.png",
    "http://[::]:PORT/a.png",
    "http://[fd00::1]/a.png",
    "http://167772161/a.png",
    "http://0x0a000001/a.png",
    "http://evil.localhost:PORT/a.png",
    "http://localhost:PORT/a.png",
    "http://localhost.:PORT/a.png",
    "http://LOCALHOST.:PORT/a.png",
    "http://private.test/a.png",
    "http://metadata.test/latest/meta-data",
    "http://mapped.test:PORT/a.png",
    "http://ula.test/a.png",
    # 6to4 and NAT64 forms of 127.0.0.1 are routed off the machine, to a relay or a translator
    "http://[2002:7f00:1::]:PORT/a.png",
    "http://[64:ff9b::7f00:1]:PORT/a.png",
    "http://sixtofour.test:PORT/a.png",
]
CONTROL = "http://good.test:PORT/a.png"  # resolves to 127.0.0.1: fetched, and seen by strace


async def _redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(request.query["to"])


async def _hook(request: web.Request) -> web.StreamResponse:
    return web.Response(status=204)


async def _inputs(base: str, port: str, out: list[dict[str, Any]]) -> None:
    for policy in InputPolicy:
        fetcher = Fetcher(InputsConfig(policy=policy, timeout_seconds=5))
        try:
            for target in [*HOSTILE, CONTROL]:
                url = target.replace("PORT", port)
                for via, tried in (("direct", url), ("redirect", f"{base}/r?to={url}")):
                    try:
                        got = await fetcher.fetch("image_url", tried, "image")
                        outcome = {"fetched": got.source, "note": got.note}
                    except InputRejected as exc:
                        outcome = {"rejected": str(exc)}
                    out.append(
                        {"path": "input", "policy": policy.value, "via": via, "url": url, **outcome}
                    )
        finally:
            await fetcher.close()


async def _webhooks(port: str, out: list[dict[str, Any]]) -> None:
    for allow in ([], ["*"]):
        config = config_from_mapping(
            {"clock": {"mode": "manual"}, "webhooks": {"allow_hosts": allow, "max_attempts": 1}}
        )
        clock = ManualClock(1_774_951_200.0)
        async with (
            serve(config, clock=clock) as running,
            aiohttp.ClientSession() as session,
        ):
            client = Client(session, running.url)
            for target in [*HOSTILE, CONTROL.replace("a.png", "hook")]:
                url = target.replace("PORT", port)
                answer = await client.generate(headers={"X-Webhook-URL": url})
                case = {"path": "webhook", "allow_hosts": allow, "url": url}
                if answer.status != 202:
                    out.append({**case, "answered": answer.status})
                    continue
                await running.advance(3)
                await running.settle()
                rid = answer.body["request_id"]
                entry = next(
                    e
                    for e in memory_of(running.gateway).journal
                    if e.kind == "webhook" and e.request_id == rid
                )
                out.append({**case, "status": entry.status, "error": entry.error})


async def _jobs(base: str, port: str, out: list[dict[str, Any]]) -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "inputs": {"policy": "online"}})
    async with (
        serve(config, clock=ManualClock(1_774_951_200.0)) as running,
        aiohttp.ClientSession() as session,
    ):
        client = Client(session, running.url)
        for target in HOSTILE:
            url = target.replace("PORT", port)
            body = {
                "image_url": f"{base}/r?to={url}",
                "audio_url": f"{base}/voice.wav",
                "resolution": "480p",
            }
            answer = await client.generate(body)
            assert answer.status == 202, answer.raw
            await running.advance(3)
            await running.settle()
            status = (await client.status(answer.body["request_id"])).body
            out.append(
                {"path": "job", "url": url, "status": status["status"], "error": status["error"]}
            )


async def probe() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    files = {"/a.png": sample_bytes("portrait.png"), "/voice.wav": sample_bytes("speech.wav")}
    async with ms.file_server(files, {"/r": _redirect, "/hook": _hook}) as base:
        port = base.rsplit(":", 1)[1]
        await _inputs(base, port, out)
        await _webhooks(port, out)
        await _jobs(base, port, out)
    return out


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(asyncio.run(probe()), indent=1))
