"""The gateway over its store, over HTTP: listings in pages, retention of finished work, health in
constant time, and the store's own counts kept in step with the jobs."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from mockgateway._clock import ManualClock, RealClock, ScaledClock
from mockgateway._gateway import sweep_interval

from .support import KEY, Client, manual_config, memory_of, served


def retained(max_jobs: int, **sections: Any) -> Any:
    return manual_config(retention={"max_jobs": max_jobs}, **sections)


async def _finish(gw: Any, client: Client, count: int, key: str = KEY) -> list[str]:
    ids = [(await client.generate(key=key)).body["request_id"] for _ in range(count)]
    await gw.advance(10)
    return ids


async def test_jobs_come_in_pages_newest_first_with_a_total() -> None:
    async with served(manual_config()) as (_gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100"})
        ids = [(await client.generate()).body["request_id"] for _ in range(25)]
        seen: list[str] = []
        cursor: str | None = None
        pages = []
        while True:
            path = "jobs?limit=10" + (f"&cursor={cursor}" if cursor else "")
            page = await client.admin("GET", path)
            assert page["total"] == 25
            pages.append(len(page["jobs"]))
            seen += [j["request_id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == [10, 10, 5]
        assert seen == list(reversed(ids))


async def test_job_listing_filters_by_status_and_key_with_exact_totals() -> None:
    async with served(manual_config()) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100"})
        await _finish(gw, client, 3)
        other = "other-key-0002"
        queued = [(await client.generate(key=other)).body["request_id"] for _ in range(2)]
        done = await client.admin("GET", "jobs?status=completed&limit=2")
        assert (done["total"], len(done["jobs"])) == (3, 2)
        assert done["next_cursor"] is not None
        mine = await client.admin("GET", f"jobs?key={other}")
        assert mine["total"] == 2
        assert [j["request_id"] for j in mine["jobs"]] == list(reversed(queued))
        assert all(j["status"] == "QUEUED" for j in mine["jobs"])


async def test_bad_page_parameters_are_400s_naming_the_parameter() -> None:
    async with served(manual_config()) as (_gw, client):
        for query, named in [
            ("limit=0", "limit"),
            ("limit=1001", "limit"),
            ("limit=ten", "limit"),
            ("cursor=abc", "cursor"),
            ("page=2", "'page'"),
            ("key=", "key"),
        ]:
            answer = await client.request("GET", f"/_mock/jobs?{query}", key=None)
            assert answer.status == 400, query
            assert named in answer.body["message"], (query, answer.body)


async def test_finished_jobs_beyond_the_bound_are_forgotten_and_their_links_expire() -> None:
    async with served(retained(3)) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100"})
        ids = await _finish(gw, client, 5)
        listing = await client.admin("GET", "jobs")
        assert listing["total"] == 3
        assert [j["request_id"] for j in listing["jobs"]] == list(reversed(ids[2:]))
        assert (await client.status(ids[0])).status == 404
        kept = (await client.status(ids[4])).body["output"]["media_url"][0]
        gone = urlsplit(kept.replace(ids[4], ids[0])).path
        expired = await client.request("GET", gone, key=None)
        assert expired.status == 403
        assert expired.body["message"] == "This media link has expired."
        health = await client.admin("GET", "health")
        assert health["jobs"] == 3
        assert health["state"] == {"backend": "memory", "shared": False}
        store = memory_of(gw.gateway)
        assert len(store.jobs) == 3


async def test_a_finished_job_past_the_retention_age_goes_though_no_other_job_ends() -> None:
    config = manual_config(retention={"max_age_seconds": 100})
    async with served(config) as (gw, client):
        [rid] = await _finish(gw, client, 1)  # ended 3 s after it was made, 7 s ago
        media = urlsplit((await client.status(rid)).body["output"]["media_url"][0]).path
        assert (await client.request("GET", media, key=None)).status == 200
        await client.admin("POST", "clock/advance", {"seconds": 90})  # 97 s after it ended
        assert (await client.status(rid)).status == 200
        # The age passes with nothing ending: the gateway's own sweep (every tenth of the age
        # here, at most a minute) lets the job go, and its link answers as expired links do.
        await client.admin("POST", "clock/advance", {"seconds": 20})
        assert (await client.status(rid)).status == 404
        expired = await client.request("GET", media, key=None)
        assert (expired.status, expired.body["message"]) == (403, "This media link has expired.")
        assert (await client.admin("GET", "health"))["jobs"] == 0


async def test_unfinished_jobs_are_never_forgotten() -> None:
    async with served(retained(1)) as (_gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100"})
        waiting = [(await client.generate()).body["request_id"] for _ in range(4)]
        assert (await client.admin("GET", "jobs"))["total"] == 4
        for request_id in waiting:
            assert (await client.status(request_id)).body["status"] == "QUEUED"


async def test_the_journal_reads_in_pages_with_next_since() -> None:
    async with served(manual_config()) as (_gw, client):
        rid = (await client.generate()).body["request_id"]
        for _ in range(5):
            await client.status(rid)
        first = await client.admin("GET", "journal?route=status&limit=2")
        assert len(first["entries"]) == 2
        assert first["next_since"] == first["entries"][-1]["seq"]
        rest = await client.admin("GET", f"journal?route=status&since={first['next_since']}")
        assert len(rest["entries"]) == 3
        assert rest["next_since"] is None


async def test_forgetting_many_jobs_keeps_the_creation_order_short_and_the_listing_right() -> None:
    from mockgateway._gateway import open_gateway
    from mockgateway.models import builtin_models, parse_request

    gateway = await open_gateway(
        retained(5, keys={"default_balance": "100000"}, media={"mode": "sample"})
    )
    try:
        store = memory_of(gateway)
        model = gateway.lifecycle.model(gateway.config.models[0].id)
        body = b'{"image_url": "https://x.example/i.png", "audio_url": "https://x.example/a.mp3"}'
        request = parse_request(builtin_models("480p")[0], body, max_bytes=65536)
        ids = []
        for _ in range(3):  # each round forgets what the one before made
            for _ in range(1200):
                wallet = await gateway.accounts.authenticate(KEY)
                job = await gateway.lifecycle.submit(
                    wallet, model, request, webhook_url=None, media_base_url="http://x"
                )
                ids.append(job.request_id)
            await gateway.advance(10)
            assert len(store._order) <= 1200 + 1025  # dropped ids are cut off the front
        page = await store.list_jobs(limit=10)
        assert [j.request_id for j in page.items] == list(reversed(ids[-5:]))
        assert page.total == 5
        assert page.next_cursor is None
    finally:
        await gateway.close()


def test_the_retention_sweep_is_a_minute_a_tenth_of_the_age_and_never_more_than_once_a_second() -> (
    None
):
    manual = ManualClock(0.0)
    assert sweep_interval(86_400.0, manual) == 60.0
    assert sweep_interval(100.0, manual) == 10.0  # a tenth of a short age
    assert sweep_interval(86_400.0, RealClock()) == 60.0
    assert sweep_interval(5.0, RealClock()) == 1.0  # a real second at the least
    # a clock a million times fast: a real second is a million gateway seconds
    assert sweep_interval(86_400.0, ScaledClock(1e6)) == 1e6
    assert sweep_interval(86_400.0, ScaledClock(10.0)) == 60.0
