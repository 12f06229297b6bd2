"""The operator API under /_mock/."""

from __future__ import annotations

import pytest

from mockgateway import config_from_mapping

from .support import KEY, memory_of, served


async def test_health_reports_the_clock_and_counts() -> None:
    async with served() as (_gw, client):
        await client.generate()
        health = await client.admin("GET", "health")
        assert health["status"] == "ok"
        assert health["clock"] == {"mode": "manual", "now": 1_774_951_200.0}
        assert health["jobs"] == 1
        assert health["scheduled"] == 1
        journal = {"enabled": True, "entries": 1, "max_entries": 10_000, "dropped": 0}
        filled = health["journal"]
        assert {k: filled.pop(k) for k in journal} == journal  # the generate, not yet the health
        assert filled["max_bytes"] == 64 * 1024 * 1024
        assert filled["max_body_bytes"] == 16 * 1024
        assert 1024 < filled["bytes"] < 16 * 1024  # one small exchange


async def test_jobs_can_be_listed_filtered_and_read() -> None:
    async with served() as (gw, client):
        first = (await client.generate()).body["request_id"]
        await gw.advance(1)
        second = (await client.generate()).body["request_id"]
        listed = await client.admin("GET", "jobs")
        assert {j["request_id"] for j in listed["jobs"]} == {first, second}
        queued = await client.admin("GET", "jobs?status=queued")
        assert [j["request_id"] for j in queued["jobs"]] == [second]
        job = await client.admin("GET", f"jobs/{first}")
        assert job["status"] == "PROCESSING"
        assert job["key"] == "****" + KEY[-4:]
        assert [h["status"] for h in job["history"]] == ["QUEUED", "PROCESSING"]
        missing = await client.request("GET", "/_mock/jobs/nope", key=None)
        assert missing.status == 404


async def test_reset_forgets_jobs_wallets_and_journal() -> None:
    async with served() as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "1.00"})
        rid = (await client.generate()).body["request_id"]
        await client.admin("POST", "reset")
        assert memory_of(gw.gateway).jobs == {}
        assert len(gw.gateway.scheduler) == 0
        assert (await client.status(rid)).status == 404
        assert (await client.admin("GET", f"wallets/{KEY}"))["balance"] == "10.00"


async def test_clock_advance_needs_a_manual_clock_and_a_number() -> None:
    async with served() as (_gw, client):
        moved = await client.admin("POST", "clock/advance", {"seconds": 2.5})
        assert moved["now"] == 1_774_951_202.5
        bad = await client.request("POST", "/_mock/clock/advance", body={"seconds": "x"}, key=None)
        assert bad.status == 400
        assert "seconds" in bad.body["message"]
    async with served(config_from_mapping({})) as (_gw, client):
        answer = await client.request("POST", "/_mock/clock/advance", body={"seconds": 1}, key=None)
        assert answer.status == 409
        assert "manual" in answer.body["message"]


async def test_strict_mode_wallet_reads_do_not_invent_keys() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "keys": {"mode": "strict", "accounts": [{"key": KEY}]}}
    )
    async with served(config) as (_gw, client):
        assert (await client.admin("GET", f"wallets/{KEY}"))["balance"] == "10.00"
        answer = await client.request("GET", "/_mock/wallets/stranger", key=None)
        assert answer.status == 404
        assert answer.body["error"] == "Wallet not found"
        listed = await client.admin("GET", "wallets")
        assert [w["key"] for w in listed["wallets"]] == [KEY]
        assert (await client.generate(key="stranger")).status == 401


async def test_strict_mode_an_operator_admits_a_key_by_giving_it_a_wallet() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "keys": {"mode": "strict", "accounts": [{"key": KEY}]}}
    )
    async with served(config) as (_gw, client):
        assert (await client.generate(key="newcomer")).status == 401
        await client.admin("PUT", "wallets/newcomer", {"balance": "3.00"})
        assert (await client.generate(key="newcomer")).status == 202


@pytest.mark.parametrize(
    ("balance", "named"),
    [("1e30", "at most 1,000,000,000,000"), ("-1", "negative"), ("NaN", "such as")],
)
async def test_a_balance_out_of_range_is_a_400_and_changes_nothing(
    balance: str, named: str
) -> None:
    async with served() as (_gw, client):
        before = await client.admin("GET", f"wallets/{KEY}")
        answer = await client.request(
            "PUT", f"/_mock/wallets/{KEY}", body={"balance": balance}, key=None
        )
        assert answer.status == 400
        assert named in answer.body["message"]
        listed = await client.admin("GET", "wallets")
        assert listed["wallets"] == [
            {k: before[k] for k in ("key", "balance", "held", "available")}
        ]
        assert await client.admin("GET", f"wallets/{KEY}") == before


async def test_a_tiny_balance_reads_back_without_an_exponent() -> None:
    async with served() as (_gw, client):
        wallet = await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.000001"})
        assert wallet["balance"] == "0.000001"  # the smallest amount: six decimal places


RANGE = "seconds must be a number from 0 to 1,000,000,000"


@pytest.mark.parametrize(
    ("seconds", "named"),
    [
        (b"NaN", "seconds is NaN, which is not a JSON number"),  # the body reader refuses them
        (b"Infinity", "seconds is Infinity, which is not a JSON number"),
        (b"1e999", "seconds is a number out of range (1e999)"),
        (b"1e10", RANGE),
        (b"-1", RANGE),
        (b'"5"', RANGE),
    ],
)
async def test_advancing_the_clock_by_a_bad_amount_is_a_400(seconds: bytes, named: str) -> None:
    async with served() as (_gw, client):
        before = await client.admin("GET", "clock")
        answer = await client.request(
            "POST", "/_mock/clock/advance", raw=b'{"seconds": ' + seconds + b"}", key=None
        )
        assert answer.status == 400
        assert named in answer.body["message"]
        assert await client.admin("GET", "clock") == before
