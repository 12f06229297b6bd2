"""Wallets and per-second billing over HTTP, checked against the ledger."""

from __future__ import annotations

from decimal import Decimal

from mockgateway import ManualClock, config_from_mapping
from mockgateway.media import InputRejected, JobInputs, Probe, RenderedMedia

from .support import DOC_BODY, KEY, manual_config, memory_of, served


class FixedPipeline:
    """A media pipeline with a chosen duration, or a rejection, or a crash."""

    def __init__(self, seconds: float = 5.0, reject: str | None = None, crash: bool = False):
        self.seconds = seconds
        self.reject = reject
        self.crash = crash

    async def probe(self, inputs: JobInputs) -> Probe:
        if self.reject:
            raise InputRejected(self.reject)
        return Probe(duration_seconds=self.seconds, resolution=inputs.output.resolution)

    async def render(self, probe: Probe) -> RenderedMedia:
        if self.crash:
            raise RuntimeError("encoder exploded")
        return RenderedMedia.of(b"\x00\x00\x00\x18ftypmp42")

    async def close(self) -> None:
        return None


def clock() -> ManualClock:
    return ManualClock(1_774_951_200.0)


async def test_completed_job_charges_ceil_seconds_times_price() -> None:
    async with served(manual_config(), clock=clock(), media=FixedPipeline(7.2)) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "25.00"})
        rid = (await client.generate()).body["request_id"]
        await gw.advance(1)
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["held"] == "1.28"  # 8 started seconds x 0.16
        assert wallet["available"] == "23.72"
        assert wallet["balance"] == "25.00"
        await gw.advance(2)
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "23.72"
        assert wallet["held"] == "0.00"
        moves = [(e["movement"], e["amount"], e["request_id"]) for e in wallet["ledger"]]
        assert moves[-2:] == [("hold", "1.28", rid), ("charge", "1.28", rid)]
        job = await client.admin("GET", f"jobs/{rid}")
        assert job["cost"] == "1.28"
        assert job["duration_seconds"] == 7.2


async def test_rejected_inputs_end_failed_and_uncharged() -> None:
    pipeline = FixedPipeline(reject="audio_url: could not decode audio")
    async with served(manual_config(), clock=clock(), media=pipeline) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3)
        body = (await client.status(rid)).body
        assert body["status"] == "FAILED"
        assert body["error"] == "audio_url: could not decode audio"
        assert body["output"] is None
        assert body["completed_at"] is not None
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "10.00"
        assert [e["movement"] for e in wallet["ledger"]] == ["set"]


async def test_a_crash_in_processing_is_error_and_never_charged() -> None:
    async with served(manual_config(), clock=clock(), media=FixedPipeline(crash=True)) as (
        gw,
        client,
    ):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3)
        body = (await client.status(rid)).body
        assert body["status"] == "ERROR"
        assert "encoder exploded" in body["error"]
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "10.00"
        assert [e["movement"] for e in wallet["ledger"]] == ["set", "hold", "release"]


async def test_wallet_that_cannot_cover_the_exact_cost_fails_the_job() -> None:
    async with served(manual_config(), clock=clock(), media=FixedPipeline(10.0)) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "1.59"})
        rid = (await client.generate()).body["request_id"]  # 0.16 covers the first second
        await gw.advance(3)
        body = (await client.status(rid)).body
        assert body["status"] == "FAILED"
        assert body["error"] == "Insufficient Balance: Your wallet does not have enough balance."
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "1.59"


async def test_charge_failed_option_captures_the_hold() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "billing": {"charge_failed": True}})
    async with served(config, clock=clock(), media=FixedPipeline(2.0)) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(1)
        await gw.gateway.lifecycle.command(rid, "fail", "model said no")
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "9.68"


async def test_balances_are_exact_decimals_over_many_jobs() -> None:
    async with served(manual_config(), clock=clock(), media=FixedPipeline(0.3)) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": 1})
        for _ in range(6):
            await client.generate()
        await gw.advance(3)
        wallet = memory_of(gw.gateway).wallets[KEY]
        assert wallet.balance == Decimal("0.04")  # 1 - 6 x 0.16, no float drift
        assert (await client.admin("GET", f"wallets/{KEY}"))["balance"] == "0.04"
        assert (await client.generate()).status == 402


async def test_open_mode_gives_each_new_key_the_default_balance() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "keys": {"default_balance": "3.5"}})
    async with served(config, clock=clock()) as (_gw, client):
        assert (await client.generate(key="brand-new-key")).status == 202
        wallet = await client.admin("GET", "wallets/brand-new-key")
        assert wallet["key"] == "brand-new-key"
        assert wallet["balance"] == "3.50"


async def test_wallet_admin_rejects_bad_amounts_with_a_named_field() -> None:
    async with served() as (_gw, client):
        for bad in ({"balance": "lots"}, {"balance": -1}, {}, {"balance": True}):
            answer = await client.request("PUT", f"/_mock/wallets/{KEY}", body=bad, key=None)
            assert answer.status == 400
            assert "balance" in answer.body["message"]


class KnownPipeline:
    """A pipeline that knows every probe without reading anything and has every output
    rendered (as bundled samples probed before are), counting what it is asked."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.asked = 0

    def probe_at_once(self, inputs: JobInputs) -> Probe:
        self.asked += 1
        return Probe(duration_seconds=self.seconds, resolution=inputs.output.resolution)

    def rendered(self, probe: Probe) -> RenderedMedia:
        return RenderedMedia.of(b"\x00\x00\x00\x18ftypmp42")

    async def probe(self, inputs: JobInputs) -> Probe:
        raise AssertionError("a known probe is never read")

    async def render(self, probe: Probe) -> RenderedMedia:
        raise AssertionError("a rendered output is never rendered again")

    async def close(self) -> None:
        return None


async def test_jobs_of_one_request_share_its_probe_and_price() -> None:
    pipeline = KnownPipeline(7.2)
    async with served(manual_config(), clock=clock(), media=pipeline) as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "25.00"})
        same = [(await client.generate()).body["request_id"] for _ in range(3)]
        other = (await client.generate(dict(DOC_BODY, resolution="720p"))).body["request_id"]
        await gw.advance(3)
        assert pipeline.asked == 2  # once for the request, once for the other resolution
        for rid in [*same, other]:
            job = await client.admin("GET", f"jobs/{rid}")
            assert (job["status"], job["cost"], job["duration_seconds"]) == (
                "COMPLETED",
                "1.28",
                7.2,
            )
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "19.88"  # 4 x 8 started seconds x 0.16
        assert wallet["held"] == "0.00"


async def test_a_request_with_long_urls_is_not_remembered() -> None:
    pipeline = KnownPipeline(2.0)
    long = dict(DOC_BODY, image_url=f"https://storage.example/{'a' * 4100}/portrait.png")
    async with served(manual_config(), clock=clock(), media=pipeline) as (gw, client):
        for _ in range(2):
            assert (await client.generate(long)).status == 202
        await gw.advance(3)
        assert pipeline.asked == 2  # asked for each job: the memo stays small in bytes
        jobs = await client.admin("GET", "jobs")
        assert [j["status"] for j in jobs["jobs"]] == ["COMPLETED", "COMPLETED"]
