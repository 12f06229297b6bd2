"""The pipeline behind the gateway: probe, stand-ins, render in a worker, the render cache."""

from __future__ import annotations

import asyncio
import base64
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import av
import pytest

from mockgateway.media import (
    OMNIHUMAN_MAX_SECONDS,
    AvPipeline,
    InputPolicy,
    InputRef,
    InputRejected,
    InputsConfig,
    JobInputs,
    MediaConfig,
    MediaKind,
    OutputMode,
    OutputPlan,
    sample_bytes,
)
from tests import media_support as ms


def data_url(data: bytes) -> str:
    return "data:;base64," + base64.b64encode(data).decode()


def job(image: str, audio: str, resolution: str = "480p") -> JobInputs:
    """An OmniHuman job: an image and an audio input, a lipsync video as long as the audio."""
    return JobInputs(
        request_id="r1",
        model_id="m",
        inputs=(
            InputRef(field="image_url", kind=MediaKind.IMAGE, url=image),
            InputRef(field="audio_url", kind=MediaKind.AUDIO, url=audio),
        ),
        output=OutputPlan(
            kind=MediaKind.VIDEO,
            format="mp4",
            resolution=resolution,
            length_from="audio_url",
            max_seconds=OMNIHUMAN_MAX_SECONDS,
        ),
    )


async def test_probe_measures_the_audio_and_notes_stand_ins() -> None:
    pipeline = AvPipeline()
    try:
        probe = await pipeline.probe(
            job(data_url(ms.png(64, 48)), "https://cdn.example.com/voice.mp3", "1080p")
        )
    finally:
        await pipeline.close()
    assert probe.duration_seconds == pytest.approx(3.0)
    assert probe.resolution == "1080p"
    assert probe.notes == (
        "audio_url: cdn.example.com was not contacted (input policy 'offline'); "
        "the bundled sample speech.mp3 stood in",
    )


async def test_image_errors_are_reported_before_audio_errors() -> None:
    pipeline = AvPipeline(InputsConfig(policy=InputPolicy.STRICT))
    with pytest.raises(InputRejected, match=r"^image_url: host a\.example is unreachable"):
        await pipeline.probe(job("http://a.example/i.png", "http://b.example/a.mp3"))


async def test_too_long_audio_is_rejected_at_1080p_but_not_at_720p() -> None:
    audio = data_url(ms.wav(31.0, rate=4000, amplitude=0.1))
    image = data_url(ms.png(32, 32))
    pipeline = AvPipeline()
    with pytest.raises(InputRejected) as caught:
        await pipeline.probe(job(image, audio, "1080p"))
    assert str(caught.value).startswith(
        "audio_url: 31.0 s of audio exceeds the 30 s limit at 1080p"
    )
    assert (await pipeline.probe(job(image, audio, "720p"))).duration_seconds == pytest.approx(31)


async def test_render_runs_in_the_worker_pool_and_is_cached() -> None:
    pipeline = AvPipeline()
    try:
        inputs = job(data_url(ms.png(64, 36)), data_url(ms.wav(0.5)))
        probe = await pipeline.probe(inputs)
        first, second = await asyncio.gather(pipeline.render(probe), pipeline.render(probe))
        again = await pipeline.render(await pipeline.probe(inputs))
    finally:
        await pipeline.close()
    assert pipeline.renders == 1  # concurrent and later identical requests share one render
    assert first is second is again
    assert first.content_type == "video/mp4"
    assert first.etag.startswith('"')
    with av.open(io.BytesIO(first.data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (854, 480)


async def test_the_same_inputs_are_probed_once_and_a_rejection_is_not_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockgateway.media import _pipeline

    monkeypatch.setattr(_pipeline, "PROBES_KEPT", 3)
    pipeline = AvPipeline(InputsConfig(policy=InputPolicy.OFFLINE))
    sample = "https://storage.example/portrait.png", "https://storage.example/speech.mp3"
    try:
        at_once = await asyncio.gather(*(pipeline.probe(job(*sample, r)) for r in ("480p",) * 4))
        later = await pipeline.probe(job(*sample, "720p"))
        assert pipeline.probes == 1  # concurrent and later probes of the same bytes share one
        assert {p.duration_seconds for p in (*at_once, later)} == {at_once[0].duration_seconds}
        assert later.resolution == "720p"
        assert later.notes == at_once[0].notes
        bad = job(data_url(b"not an image"), sample[1])
        for _ in range(2):
            with pytest.raises(InputRejected, match="image_url: could not decode"):
                await pipeline.probe(bad)
        assert pipeline.probes == 1
        image = data_url(ms.png(32, 32))
        audios = [data_url(ms.wav(0.1 * n)) for n in (1, 2, 3)]
        for audio in audios:  # with the sample's, four probes: the oldest is let go
            await pipeline.probe(job(image, audio))
        assert pipeline.probes == 4
        assert len(pipeline._probed) == 3
        await pipeline.probe(job(*sample, "1080p"))  # inputs and plan not seen: probed again
        assert pipeline.probes == 5
    finally:
        await pipeline.close()


async def test_sample_inputs_probed_before_are_known_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mockgateway.media import _pipeline

    monkeypatch.setattr(_pipeline, "AT_ONCE_KEPT", 2)
    pipeline = AvPipeline(InputsConfig(policy=InputPolicy.OFFLINE))
    sample = "https://storage.example/portrait.png", "https://storage.example/speech.mp3"
    reads: list[str] = []
    fetch_at_once = pipeline.fetcher.fetch_at_once

    def counted(field: str, url: str, kind: str) -> Any:
        reads.append(url)
        return fetch_at_once(field, url, kind)

    monkeypatch.setattr(pipeline.fetcher, "fetch_at_once", counted)
    try:
        assert pipeline.probe_at_once(job(*sample)) is None  # never probed
        first = await pipeline.probe(job(*sample))
        assert len(reads) == 2
        assert pipeline.probe_at_once(job(*sample)) is first
        assert await pipeline.probe(job(*sample)) is first
        assert len(reads) == 2  # known: nothing fetched, hashed or probed again
        assert pipeline.probe_at_once(job(*sample, "720p")) is None  # another plan
        # a data: URL is not a bundled sample: its probe is not kept by URL
        await pipeline.probe(job(data_url(ms.png(32, 32)), sample[1]))
        assert pipeline.probe_at_once(job(data_url(ms.png(32, 32)), sample[1])) is None
        # at most AT_ONCE_KEPT are kept, the least recently used let go
        await pipeline.probe(job(*sample, "720p"))
        await pipeline.probe(job(*sample, "1080p"))
        assert pipeline.probe_at_once(job(*sample)) is None
        assert pipeline.probe_at_once(job(*sample, "1080p")) is not None
        long = f"https://storage.example/{'a' * 5000}/portrait.png"
        await pipeline.probe(job(long, sample[1]))
        assert pipeline.probe_at_once(job(long, sample[1])) is None  # too long to keep
    finally:
        await pipeline.close()


async def test_cache_is_bounded_and_keyed_by_resolution() -> None:
    with ThreadPoolExecutor(1) as pool:
        pipeline = AvPipeline(media=MediaConfig(cache_entries=1), executor=pool)
        image, audio = data_url(ms.png(32, 32)), data_url(ms.wav(0.2))
        small = await pipeline.probe(job(image, audio, "480p"))
        large = await pipeline.probe(job(image, audio, "720p"))
        await pipeline.render(small)
        await pipeline.render(large)  # a different key, evicting the 480p render
        await pipeline.render(small)
        await pipeline.close()
    assert pipeline.renders == 3


async def test_sample_mode_draws_the_bundled_portrait_whatever_the_image() -> None:
    with ThreadPoolExecutor(1) as pool:
        pipeline = AvPipeline(media=MediaConfig(mode=OutputMode.SAMPLE), executor=pool)
        audio = data_url(ms.wav(0.2))
        one = await pipeline.render(await pipeline.probe(job(data_url(ms.png(32, 32)), audio)))
        two = await pipeline.render(await pipeline.probe(job(data_url(ms.png(90, 40)), audio)))
        await pipeline.close()
    assert one is two
    assert pipeline.renders == 1
    with av.open(io.BytesIO(one.data)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (480, 640)


async def test_a_probe_from_elsewhere_cannot_be_rendered() -> None:
    from mockgateway.media import Probe

    with pytest.raises(InputRejected):
        await AvPipeline().render(Probe(duration_seconds=1.0, resolution="480p"))


def test_samples_are_what_their_names_say() -> None:
    assert sample_bytes("portrait.png").startswith(b"\x89PNG")
    assert sample_bytes("speech.wav")[:4] == b"RIFF"
    with pytest.raises(KeyError):
        sample_bytes("../pyproject.toml")


async def test_a_crashed_render_worker_is_replaced() -> None:
    import os
    import signal

    from mockgateway.media._pool import WorkerCrashed, shared_pool

    pipeline = AvPipeline(media=MediaConfig(workers=2))  # a pool of its own in this process
    image = data_url(ms.png(32, 32))
    first = await pipeline.probe(job(image, data_url(ms.wav(0.2))))
    second = await pipeline.probe(job(image, data_url(ms.wav(0.3))))
    await pipeline.render(first)
    pool = shared_pool("render", 2)
    for pid in pool.pids:
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerCrashed):
        await pipeline.render(second)
    assert (await pipeline.render(second)).data
    await pipeline.close()
