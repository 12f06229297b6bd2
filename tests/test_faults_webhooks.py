"""Webhook faults seen by a real receiver on loopback: drop, delay, duplicate, out of order."""

from __future__ import annotations

from .faults_support import scenario_config
from .support import served
from .test_webhooks import receiver


async def test_dropped_webhook_never_arrives_and_status_still_works() -> None:
    config = scenario_config(faults=[{"action": "webhook_drop", "nth": 1}])
    async with receiver() as hook, served(config) as (gw, client):
        first = (await client.generate(headers={"X-Webhook-URL": hook.url})).body["request_id"]
        second = (await client.generate(headers={"X-Webhook-URL": hook.url})).body["request_id"]
        await gw.advance(60)
        assert [c["body"]["request_id"] for c in hook.calls] == [second]
        assert (await client.status(first)).body["status"] == "COMPLETED"
        # nothing was sent, so the journal has no attempt; the job says what happened
        view = await client.admin("GET", f"jobs/{first}")
        assert any("webhook for COMPLETED" in n and "dropped" in n for n in view["notes"])
        sent = await client.admin("GET", "journal")
        hooks = [e["request_id"] for e in sent["entries"] if e["kind"] == "webhook"]
        assert hooks == [second]


async def test_delayed_webhook_arrives_that_much_later() -> None:
    config = scenario_config(faults=[{"action": "webhook_delay", "seconds": 10}])
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(3)  # the job has ended
        await gw.advance(9.9)
        assert hook.calls == []
        await gw.advance(0.1)
        assert len(hook.calls) == 1
        assert hook.calls[0]["body"]["status"] == "COMPLETED"


async def test_webhook_delay_from_the_delays_section() -> None:
    config = scenario_config(delays={"webhook": 2})
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(4.9)
        assert hook.calls == []
        await gw.advance(0.1)
        assert len(hook.calls) == 1


async def test_duplicated_webhook_arrives_as_many_times() -> None:
    config = scenario_config(faults=[{"action": "webhook_duplicate", "copies": 3}])
    async with receiver() as hook, served(config) as (gw, client):
        rid = (await client.generate(headers={"X-Webhook-URL": hook.url})).body["request_id"]
        await gw.advance(3)
        assert len(hook.calls) == 3
        assert all(c["body"]["request_id"] == rid for c in hook.calls)
        assert hook.calls[0]["body"] == hook.calls[2]["body"]


async def test_reordered_webhooks_arrive_newest_first() -> None:
    config = scenario_config(
        webhooks={"per_transition": True}, faults=[{"action": "webhook_reorder"}]
    )
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(1)
        assert hook.calls == []  # PROCESSING is held back
        await gw.advance(2)
        await gw.advance(1)
        assert [c["body"]["status"] for c in hook.calls] == ["COMPLETED", "PROCESSING"]


async def test_webhook_rule_matches_the_callback_status() -> None:
    config = scenario_config(
        webhooks={"per_transition": True},
        faults=[{"action": "webhook_drop", "phase": "processing"}],
    )
    async with receiver() as hook, served(config) as (gw, client):
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(5)
        assert [c["body"]["status"] for c in hook.calls] == ["COMPLETED"]


async def test_mock_webhook_drop_scenario_key() -> None:
    async with receiver() as hook, served() as (gw, client):
        await client.generate(key="mock-webhook-drop", headers={"X-Webhook-URL": hook.url})
        await client.generate(headers={"X-Webhook-URL": hook.url})
        await gw.advance(10)
        assert len(hook.calls) == 1
