"""Webhook delivery over loopback: the body, retries with backoff on the driven clock, host policy."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from mockgateway import config_from_mapping

from .support import KEY, memory_of, served


class Receiver:
    """A webhook receiver on loopback that fails its first ``failures`` calls with 503."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[dict[str, Any]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(
            {"headers": dict(request.headers), "body": json.loads(await request.read())}
        )
        if len(self.calls) <= self.failures:
            return web.Response(status=503, text="busy")
        return web.Response(status=204)


@contextlib.asynccontextmanager
async def receiver(failures: int = 0) -> AsyncIterator[Receiver]:
    hook = Receiver(failures)
    app = web.Application()
    app.router.add_post("/hook", hook.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook.url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
    try:
        yield hook
    finally:
        await runner.cleanup()


async def test_terminal_status_body_is_posted_and_equals_the_status_answer() -> None:
    async with receiver() as hook, served() as (gw, client):
        rid = (await client.generate(headers={"X-Webhook-URL": hook.url})).body["request_id"]
        await gw.advance(1)
        assert hook.calls == []
        await gw.advance(2)
        assert len(hook.calls) == 1
        assert hook.calls[0]["headers"]["Content-Type"] == "application/json"
        assert hook.calls[0]["body"] == (await client.status(rid)).body
        assert hook.calls[0]["body"]["status"] == "COMPLETED"


async def test_failed_deliveries_retry_with_exponential_backoff() -> None:
    async with receiver(failures=3) as hook, served() as (gw, client):
        rid = (await client.generate(headers={"X-Webhook-URL": hook.url})).body["request_id"]
        await gw.advance(3)
        assert len(hook.calls) == 1
        await gw.advance(0.99)
        assert len(hook.calls) == 1
        await gw.advance(0.01)  # 1 s after the first failure
        assert len(hook.calls) == 2
        await gw.advance(2)  # then 2 s
        assert len(hook.calls) == 3
        await gw.advance(3.99)
        assert len(hook.calls) == 3
        await gw.advance(0.01)  # then 4 s
        assert len(hook.calls) == 4
        await gw.advance(100)
        assert len(hook.calls) == 4  # delivered on the 4th, no more
        attempts = [e for e in memory_of(gw.gateway).journal if e.kind == "webhook"]
        assert [e.status for e in attempts] == [503, 503, 503, 204]
        assert next(e.notes for e in attempts) == ("attempt 1 of 5",)
        assert all(e.request_id == rid and e.key == "****" + KEY[-4:] for e in attempts)
        job = await client.admin("GET", f"jobs/{rid}")
        assert job["webhooks"][0]["delivered"] is True
        assert job["webhooks"][0]["attempts"] == 4


async def test_retries_stop_at_max_attempts_and_connection_errors_count() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "webhooks": {"max_attempts": 3}})
    async with served(config) as (gw, client):
        dead = "http://127.0.0.1:9/hook"  # discard port: nothing listens
        await client.generate(headers={"X-Webhook-URL": dead})
        await gw.advance(3 + 1 + 2 + 100)
        attempts = [e for e in memory_of(gw.gateway).journal if e.kind == "webhook"]
        assert len(attempts) == 3
        assert all(e.status is None and e.error for e in attempts)
        assert [round(e.started_at - attempts[0].started_at, 3) for e in attempts] == [0, 1, 3]


async def test_a_host_the_operator_did_not_allow_is_never_contacted() -> None:
    async with served() as (gw, client):
        answer = await client.generate(
            headers={"X-Webhook-URL": "https://your-server.com/webhook/callback"}
        )
        assert answer.status == 202
        await gw.advance(50)
        attempts = [e for e in memory_of(gw.gateway).journal if e.kind == "webhook"]
        assert len(attempts) == 1
        assert attempts[0].status is None
        assert "your-server.com" in (attempts[0].error or "")
        assert "allow_hosts" in (attempts[0].error or "")


async def test_failed_jobs_send_their_webhook_too() -> None:
    async with receiver() as hook, served() as (gw, client):
        # enough to submit, not for the 3 s stand-in sample (0.48)
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.40"})
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(3)
        assert hook.calls[0]["body"]["status"] == "FAILED"
        assert hook.calls[0]["body"]["output"] is None


async def test_per_transition_option_posts_every_status() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "webhooks": {"per_transition": True}}
    )
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(3)
        assert [c["body"]["status"] for c in hook.calls] == ["PROCESSING", "COMPLETED"]
