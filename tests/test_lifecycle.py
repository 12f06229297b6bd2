"""The job lifecycle on a driven clock, seen through the status endpoint."""

from __future__ import annotations

from mockgateway import config_from_mapping

from .support import KEY, memory_of, served


async def test_queued_processing_completed_with_doc_timestamps() -> None:
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        assert (await client.status(rid)).body["status"] == "QUEUED"

        await gw.advance(0.999)
        assert (await client.status(rid)).body["status"] == "QUEUED"

        await gw.advance(0.001)
        processing = (await client.status(rid)).body
        assert processing["status"] == "PROCESSING"
        assert processing["updated_at"] == "2026-03-31T10:00:01.000Z"
        assert processing["completed_at"] is None

        await gw.advance(2.0)
        done = (await client.status(rid)).body
        assert done["status"] == "COMPLETED"
        assert done["error"] is None
        assert done["created_at"] == "2026-03-31T10:00:00.000Z"
        assert done["updated_at"] == "2026-03-31T10:00:03.000Z"
        assert done["completed_at"] == "2026-03-31T10:00:03.000Z"
        assert done["output"] == {
            "media_url": [f"{gw.url}/v1/{rid}/output.mp4"],
            "media_type": "video/mp4",
        }


async def test_phase_durations_are_configurable() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "lifecycle": {"queue_seconds": 10, "processing_seconds": 15}}
    )
    async with served(config) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(9.5)
        assert (await client.status(rid)).body["status"] == "QUEUED"
        await gw.advance(0.5)
        assert (await client.status(rid)).body["status"] == "PROCESSING"
        await gw.advance(14.9)
        assert (await client.status(rid)).body["status"] == "PROCESSING"
        await gw.advance(0.1)
        done = (await client.status(rid)).body
        assert done["status"] == "COMPLETED"
        assert done["completed_at"] is not None


async def test_completed_output_is_downloadable_as_mp4() -> None:
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3)
        url = (await client.status(rid)).body["output"]["media_url"][0]
        media = await client.request("GET", url, key=None)
        assert media.status == 200
        assert media.headers["Content-Type"] == "video/mp4"
        assert media.raw[4:8] == b"ftyp"
        assert media.headers["ETag"].startswith('"')


async def test_media_is_404_before_completion() -> None:
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        answer = await client.request("GET", f"/v1/{rid}/output.mp4", key=None)
        assert answer.status == 404
        assert answer.body["error"] == "Not Found"
        await gw.advance(3)
        assert (await client.request("GET", f"/v1/{rid}/output.mp4", key=None)).status == 200


async def test_many_pending_jobs_are_heap_entries_not_tasks() -> None:
    async with served() as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "100"})
        for _ in range(50):
            assert (await client.generate()).status == 202
        core = gw.gateway
        assert await core.store.pending_tasks() == 50
        assert not core.lifecycle.working
        await gw.advance(1)
        assert {j.status.value for j in memory_of(core).jobs.values()} == {"PROCESSING"}
        await gw.advance(2)
        assert {j.status.value for j in memory_of(core).jobs.values()} == {"COMPLETED"}
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["balance"] == "76.00"  # 50 jobs x 3 s (the bundled sample) x 0.16
        assert wallet["held"] == "0.00"
