"""What a hostile review of the state work found, each pinned by a test: concurrent advances, the
clock's last second, a key filter in its redacted form, a runner that stops when cancelled as it
wakes, a replica's orphaned work taken over, and SQLite links and damage refused."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from mockgateway import Gateway, ManualClock
from mockgateway._validation import parse_generate
from mockgateway.media import JobInputs, Probe, RenderedMedia
from mockgateway.store import FORGOTTEN_UNTIL, Retention
from mockgateway.store._redis import RedisStore

from .gateway_process import admin, run_serve, start_gateway
from .redis_server import redis_server
from .support import KEY, manual_config, served

START = 1_774_951_200.0


async def test_concurrent_advances_all_answer_and_add_up() -> None:
    async with served() as (gw, client):
        await client.generate()
        answers = await asyncio.gather(
            *(
                client.request("POST", "/_mock/clock/advance", body={"seconds": 1}, key=None)
                for _ in range(10)
            )
        )
        assert [a.status for a in answers] == [200] * 10
        assert gw.gateway.clock.now() == START + 10  # one after another, none lost


async def test_the_manual_clock_stops_at_the_last_second_a_timestamp_can_show() -> None:
    async with served() as (_gw, client):
        for _ in range(253):
            answer = await client.request(
                "POST", "/_mock/clock/advance", body={"seconds": 1_000_000_000}, key=None
            )
            if answer.status != 200:
                break
        assert answer.status == 409
        assert "9999" in answer.body["message"]
        assert (await client.request("GET", "/_mock/jobs", key=None)).status == 200


async def test_jobs_filter_by_the_key_as_listings_show_it() -> None:
    async with served() as (_gw, client):
        await client.generate()
        for shown in (KEY[-4:], "****" + KEY[-4:], KEY):
            listing = await client.admin("GET", f"jobs?key={shown}")
            assert listing["total"] == 1, shown


async def test_the_runner_stops_when_cancelled_as_it_is_woken() -> None:
    gateway = Gateway(manual_config(), clock=ManualClock(START))
    await gateway.open()
    try:
        for _ in range(20):  # the race is between the wake and the cancel of one loop turn
            runner = asyncio.ensure_future(gateway.run_forever())
            await asyncio.sleep(0)
            gateway.clock.advance(1)  # wakes it
            runner.cancel()
            done, _ = await asyncio.wait((runner,), timeout=2)
            assert runner in done, "the runner went on after it was cancelled"
    finally:
        await gateway.close()


class Gated:
    """Probes wait for a gate: work held in flight, as in a replica that dies during it."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()

    async def probe(self, inputs: JobInputs) -> Probe:
        await self.gate.wait()
        return Probe(duration_seconds=2.0, resolution=inputs.output.resolution)

    async def render(self, probe: Probe) -> RenderedMedia:
        return RenderedMedia.of(b"\x00\x00\x00\x18ftypmp42")

    async def close(self) -> None:
        return None


async def test_a_replicas_unfinished_work_is_taken_over_when_it_dies() -> None:
    with redis_server() as redis:
        config = manual_config()
        stuck, free = Gated(), Gated()
        free.gate.set()
        first = Gateway(
            config,
            clock=ManualClock(START),
            media=stuck,
            store=RedisStore(redis.url, Retention(), lease_seconds=0.3),
        )
        second = Gateway(
            config,
            clock=ManualClock(START),
            media=free,
            store=RedisStore(redis.url, Retention(), lease_seconds=0.3),
        )
        await first.open()
        await second.open()
        runner = asyncio.ensure_future(second.run_forever())
        try:
            wallet = await first.accounts.authenticate(KEY)
            request = parse_generate(
                b'{"image_url": "https://a.test/i.png", "audio_url": "https://a.test/a.mp3"}',
                max_bytes=65536,
                default_resolution="1080p",
            )
            job = await first.lifecycle.submit(
                wallet,
                first.lifecycle.model(config.models[0].id),
                request,
                webhook_url=None,
                media_base_url="http://x",
            )
            first.clock.advance(1)
            await first.run_due()  # PROCESSING here, its work held at the gate
            first.clock.advance(2)
            await first.run_due()  # its time is over; its work is not done
            first.lifecycle.cancel()  # this replica dies: nothing of it runs any more
            second.clock.restore(START + 3)

            async def ended() -> str:
                while True:
                    current = await second.store.get_job(job.request_id)
                    assert current is not None
                    if current.status.terminal:
                        return current.status.value
                    await asyncio.sleep(0.05)

            assert await asyncio.wait_for(ended(), timeout=10) == "COMPLETED"
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await first.close()
            await second.close()


def test_a_link_to_a_state_file_in_use_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = start_gateway("--state", str(db))
    try:
        (tmp_path / "soft.db").symlink_to(db)
        os.link(db, tmp_path / "hard.db")
        for other in ("soft.db", "hard.db"):
            refused = run_serve("--state", str(tmp_path / other))
            assert refused.returncode == 2, (other, refused.stderr)
            assert "state.path" in refused.stderr
            assert "in use" in refused.stderr
    finally:
        first.stop()


def test_a_damaged_state_file_is_refused_at_start(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    first = start_gateway("--state", str(db))
    try:
        for n in range(30):
            admin(first.url, "PUT", f"wallets/key-{n:04d}", {"balance": "1.00"})
    finally:
        first.stop()
    damaged = tmp_path / "damaged.db"
    shutil.copy(db, damaged)
    size = damaged.stat().st_size
    with damaged.open("r+b") as f:
        f.seek(max(4096, size // 3))
        f.write(b"\xa5" * 8192)
    refused = run_serve("--state", str(damaged))
    assert refused.returncode == 2, refused.stderr
    assert "state.path" in refused.stderr
    assert "damaged" in refused.stderr or "not a mockgateway state file" in refused.stderr


async def test_retention_marks_what_it_let_go_on_every_backend(tmp_path: Path) -> None:
    with redis_server() as redis:
        for where in ("memory", str(tmp_path / "state.db"), redis.url):
            config = manual_config(retention={"max_jobs": 1})
            state = {"state": {"backend": "memory"}}
            if where.endswith(".db"):
                state = {"state": {"backend": "sqlite", "path": where}}
            elif where.startswith("redis"):
                state = {"state": {"backend": "redis", "url": where}}
            config = manual_config(retention={"max_jobs": 1}, **state)
            async with served(config, clock=ManualClock(START)) as (gw, client):
                ids = [(await client.generate()).body["request_id"] for _ in range(2)]
                await gw.advance(5)
                assert await gw.gateway.store.get_meta(FORGOTTEN_UNTIL) is not None, where
                seen = (await client.status(ids[1])).body
                assert "output" in seen, (where, seen)
                kept = seen["output"]["media_url"][0]
                gone = kept.split("/v1/")[1].replace(ids[1], ids[0])
                answer = await client.request("GET", f"/v1/{gone}", key=None)
                assert answer.status == 403, (where, answer.body)
                await client.admin("POST", "reset")
                assert await gw.gateway.store.get_meta(FORGOTTEN_UNTIL) is None, where


def test_a_replica_with_another_clock_is_refused(tmp_path: Path) -> None:
    with redis_server() as redis:
        manual = tmp_path / "manual.toml"
        manual.write_text('[clock]\nmode = "manual"\n')
        scaled = tmp_path / "scaled.toml"
        scaled.write_text('[clock]\nmode = "scaled"\nspeed = 50\n')
        first = start_gateway("--config", str(manual), "--state", redis.url)
        try:
            refused = run_serve("--config", str(scaled), "--state", redis.url)
            assert refused.returncode == 2, refused.stderr
            assert "clock.mode" in refused.stderr
            assert "manual clock" in refused.stderr
            again = start_gateway("--config", str(manual), "--state", redis.url)  # the same: fine
            again.stop()
        finally:
            first.stop()


def test_a_state_url_of_another_kind_is_a_usage_error() -> None:
    refused = run_serve("--state", "postgres://db.test/state")
    assert refused.returncode == 2
    assert "postgres:// is no state store" in refused.stderr


async def test_a_wallet_refuses_parameters_it_does_not_take() -> None:
    async with served() as (_gw, client):
        answer = await client.request("GET", f"/_mock/wallets/{KEY}?foo=1", key=None)
        assert answer.status == 400
        assert "'foo'" in answer.body["message"]
