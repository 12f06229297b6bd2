"""A job's timeline follows its plan on the gateway clock, however long its render takes."""

from __future__ import annotations

import asyncio

import pytest

from mockgateway import ScaledClock, config_from_mapping
from mockgateway.media import JobInputs, Probe, RenderedMedia

from .faults_support import eventually
from .support import memory_of, served

VIDEO = b"\x00\x00\x00\x18ftypisom" + bytes(64)


class SlowRenders:
    """A pipeline whose renders finish only when the test says so: a render that is slow next
    to the gateway's clock (a cold worker, a large input at a high clock speed)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = 0

    async def probe(self, inputs: JobInputs) -> Probe:
        return Probe(duration_seconds=3.0, resolution=inputs.output.resolution)

    async def render(self, probe: Probe) -> RenderedMedia:
        self.started += 1
        await self.release.wait()
        return RenderedMedia.of(VIDEO)

    async def close(self) -> None:
        pass


async def test_a_slow_render_does_not_stretch_the_job_on_a_scaled_clock() -> None:
    config = config_from_mapping({"clock": {"mode": "scaled", "speed": 50}})
    pipeline = SlowRenders()
    async with served(config, clock=ScaledClock(50), media=pipeline) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        job = memory_of(gw.gateway).jobs[rid]
        # 1 s queued and 2 s processing of gateway time: 60 ms of real time at speed 50
        await eventually(lambda: job.status.terminal, timeout=5)
        assert pipeline.started == 1
        assert not pipeline.release.is_set()  # the render is still running
        assert job.status.value == "COMPLETED"
        assert job.completed_at is not None
        assert job.completed_at - job.created_at == pytest.approx(3.0, abs=1.5)
        media = asyncio.ensure_future(client.request("GET", job.media_urls[0], key=None))
        await asyncio.sleep(0)
        pipeline.release.set()  # the video is served once it is ready
        video = await asyncio.wait_for(media, 10)
    assert video.status == 200
    assert video.raw == VIDEO


async def test_a_render_that_fails_before_the_plan_ends_still_ends_the_job_error() -> None:
    class Broken(SlowRenders):
        async def render(self, probe: Probe) -> RenderedMedia:
            raise RuntimeError("codec exploded")

    async with served(media=Broken()) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(3)
        job = memory_of(gw.gateway).jobs[rid]
    assert job.status.value == "ERROR"
    assert job.error == "Internal processing error: codec exploded"
