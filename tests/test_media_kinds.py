"""Outputs of every declared kind: probed from any declared inputs, rendered, then decoded.

Each render is opened again with PyAV to check what it is (container, codec), how long it is and
its pixel size; the same inputs and plan give the same bytes; the model's length limit and the
declared input kinds are enforced naming the field; identical renders run once.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import av
import numpy as np
import pytest

from mockgateway.media import (
    OMNIHUMAN_MAX_SECONDS,
    AvPipeline,
    InputRef,
    InputRejected,
    JobInputs,
    MediaConfig,
    MediaKind,
    OutputMode,
    OutputPlan,
    PlanError,
    RenderedMedia,
    check_plan,
    content_type,
    output_filename,
    sample_bytes,
)
from mockgateway.media._picture import FPS
from tests import media_support as ms

IMAGE, AUDIO, VIDEO = MediaKind.IMAGE, MediaKind.AUDIO, MediaKind.VIDEO


def data_url(data: bytes) -> str:
    return "data:;base64," + base64.b64encode(data).decode()


def image_ref(data: bytes, field: str = "image_url") -> InputRef:
    return InputRef(field=field, kind=IMAGE, url=data_url(data))


def audio_ref(data: bytes, field: str = "audio_url") -> InputRef:
    return InputRef(field=field, kind=AUDIO, url=data_url(data))


def job(output: OutputPlan, *inputs: InputRef) -> JobInputs:
    return JobInputs(request_id="r1", model_id="m", inputs=inputs, output=output)


def video(resolution: str = "480p", **kw: Any) -> OutputPlan:
    return OutputPlan(kind=VIDEO, format="mp4", resolution=resolution, **kw)


def image(fmt: str = "png", resolution: str = "480p", **kw: Any) -> OutputPlan:
    return OutputPlan(kind=IMAGE, format=fmt, resolution=resolution, **kw)


def speech(fmt: str = "wav", **kw: Any) -> OutputPlan:
    return OutputPlan(kind=AUDIO, format=fmt, resolution=None, **kw)


def omnihuman(image_url: str, audio_url: str, resolution: str) -> JobInputs:
    return job(
        video(resolution, length_from="audio_url", max_seconds=OMNIHUMAN_MAX_SECONDS),
        InputRef(field="image_url", kind=IMAGE, url=image_url),
        InputRef(field="audio_url", kind=AUDIO, url=audio_url),
    )


@pytest.fixture
def pipeline() -> Iterator[AvPipeline]:
    """A pipeline rendering in this process's threads (the worker process has its own test)."""
    with ThreadPoolExecutor(1) as pool:
        pipeline = AvPipeline(executor=pool)
        try:
            yield pipeline
        finally:
            asyncio.run(pipeline.close())


async def produce(pipeline: AvPipeline, inputs: JobInputs) -> tuple[float | None, RenderedMedia]:
    probe = await pipeline.probe(inputs)
    return probe.duration_seconds, await pipeline.render(probe)


@dataclass(frozen=True)
class Decoded:
    format: str
    streams: tuple[str, ...]  # the streams' types, in order
    codec: str  # the first stream's
    size: tuple[int, int] | None
    frames: list[np.ndarray[Any, Any]]  # video frames, as luma
    seconds: float | None  # a video's frame count / FPS, an audio's sample count / rate


def decode(data: bytes) -> Decoded:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams[0]
        types = tuple(s.type for s in container.streams)
        if stream.type == "audio":
            samples = rate = 0
            for frame in container.decode(stream):
                samples += frame.samples
                rate = frame.sample_rate
            return Decoded(
                container.format.name, types, stream.codec_context.name, None, [], samples / rate
            )
        ctx = stream.codec_context
        frames = [f.to_ndarray(format="gray") for f in container.decode(stream)]
        seconds = len(frames) / FPS if ctx.name == "h264" else None
        return Decoded(
            container.format.name, types, ctx.name, (ctx.width, ctx.height), frames, seconds
        )


# Video


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [
        ("480p", "16:9", (854, 480)),
        ("720p", "9:16", (720, 1280)),
        ("1080p", "1:1", (1080, 1080)),
        ("480p", "4:3", (640, 480)),
    ],
)
async def test_image_to_video_is_an_h264_mp4_of_the_planned_length_size_and_aspect(
    pipeline: AvPipeline, resolution: str, aspect: str, size: tuple[int, int]
) -> None:
    plan = video(resolution, aspect_ratio=aspect, seconds=2.5)
    seconds, media = await produce(pipeline, job(plan, image_ref(ms.png(300, 200), "image")))
    assert seconds == 2.5
    assert media.content_type == "video/mp4"
    out = decode(media.data)
    assert "mp4" in out.format
    assert (out.codec, out.size) == ("h264", size)
    assert out.streams == ("video",)  # a video model's output has no audio track
    assert out.seconds == pytest.approx(2.5, abs=1 / FPS)
    # the picture moves: the first and a later frame differ
    assert np.abs(out.frames[0].astype(int) - out.frames[FPS // 2].astype(int)).max() > 40


async def test_a_video_without_an_aspect_takes_the_input_images(pipeline: AvPipeline) -> None:
    plan = video("480p", seconds=1.0)
    _, media = await produce(pipeline, job(plan, image_ref(ms.png(64, 48))))
    assert decode(media.data).size == (640, 480)


async def test_text_to_video_draws_a_generated_picture_16_9_by_default(
    pipeline: AvPipeline,
) -> None:
    _, media = await produce(pipeline, job(video("720p", seconds=3.0)))
    out = decode(media.data)
    assert (out.codec, out.size, out.streams) == ("h264", (1280, 720), ("video",))
    assert out.seconds == pytest.approx(3.0, abs=1 / FPS)
    assert float(out.frames[0].std()) > 10  # a picture, not a blank frame


async def test_a_video_with_audio_and_a_planned_length_cuts_the_audio_to_it(
    pipeline: AvPipeline,
) -> None:
    plan = video("480p", aspect_ratio="1:1", seconds=1.2)
    inputs = job(plan, image_ref(ms.png(64, 48)), audio_ref(ms.wav(2.0)))
    seconds, media = await produce(pipeline, inputs)
    assert seconds == 1.2
    with av.open(io.BytesIO(media.data)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
        sound = container.streams.audio[0]
        assert sound.codec_context.name == "aac"
        assert float(sound.duration * sound.time_base) == pytest.approx(1.2, abs=1 / FPS)
    out = decode(media.data)
    assert out.size == (480, 480)
    assert out.seconds == pytest.approx(1.2, abs=1 / FPS)


# Images


@pytest.mark.parametrize(("fmt", "codec"), [("png", "png"), ("jpeg", "mjpeg")], ids=["png", "jpeg"])
@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [
        ("480p", "16:9", (854, 480)),
        ("720p", "9:16", (720, 1280)),
        ("1080p", "1:1", (1080, 1080)),
        ("720p", None, (1280, 720)),  # no input image: 16:9
    ],
)
async def test_text_to_image_is_a_picture_of_the_planned_size(
    pipeline: AvPipeline,
    fmt: str,
    codec: str,
    resolution: str,
    aspect: str | None,
    size: tuple[int, int],
) -> None:
    seconds, media = await produce(pipeline, job(image(fmt, resolution, aspect_ratio=aspect)))
    assert seconds is None
    assert media.content_type == {"png": "image/png", "jpeg": "image/jpeg"}[fmt]
    out = decode(media.data)
    assert (out.codec, out.size) == (codec, size)
    assert float(out.frames[0].std()) > 10


async def test_an_input_image_is_fitted_to_the_planned_frame(pipeline: AvPipeline) -> None:
    source = ms.png(400, 300)
    _, fitted = await produce(
        pipeline, job(image("png", "720p", aspect_ratio="9:16"), image_ref(source))
    )
    _, own = await produce(pipeline, job(image("jpeg", "480p"), image_ref(source)))
    assert decode(fitted.data).size == (720, 1280)
    assert decode(own.data).size == (640, 480)  # no aspect: the input's own
    # it is the input's picture: its top rows are the portrait's background gradient
    top = decode(own.data).frames[0][:20].astype(int)
    assert abs(top.mean() - decode(ms.png(640, 480)).frames[0][:20].mean()) < 6


# Audio


@pytest.mark.parametrize(("fmt", "codec"), [("wav", "pcm_s16le"), ("mp3", "mp3float")])
@pytest.mark.parametrize("length", [0.7, 4.5, 12.25])
async def test_text_to_speech_is_audio_of_the_planned_length(
    pipeline: AvPipeline, fmt: str, codec: str, length: float
) -> None:
    seconds, media = await produce(pipeline, job(speech(fmt, seconds=length)))
    assert seconds == length
    assert media.content_type == {"wav": "audio/wav", "mp3": "audio/mpeg"}[fmt]
    out = decode(media.data)
    assert (out.streams, out.codec) == (("audio",), codec)
    assert out.format == fmt
    assert out.seconds == pytest.approx(length, rel=0.01)


async def test_audio_from_an_audio_input_is_as_long_as_it(pipeline: AvPipeline) -> None:
    seconds, media = await produce(pipeline, job(speech("mp3"), audio_ref(ms.wav(2.5), "voice")))
    assert seconds == pytest.approx(2.5)
    assert decode(media.data).seconds == pytest.approx(2.5, rel=0.01)


async def test_speech_sounds_like_speech_not_silence(pipeline: AvPipeline) -> None:
    _, media = await produce(pipeline, job(speech("wav", seconds=8.0)))
    with av.open(io.BytesIO(media.data)) as container:
        samples = np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    rate = 24000
    windows = samples[: len(samples) // (rate // 10) * (rate // 10)].reshape(-1, rate // 10)
    loud = np.abs(windows.astype(float)).mean(axis=1) > 500
    assert 0.3 < loud.mean() < 0.95  # syllables with pauses between them


# Determinism


@pytest.mark.parametrize(
    "plan",
    [
        video("480p", aspect_ratio="16:9", seconds=1.0),
        image("png", "720p", aspect_ratio="1:1"),
        image("jpeg", "480p"),
        speech("mp3", seconds=2.0),
        speech("wav", seconds=2.0),
    ],
    ids=["video", "png", "jpeg", "mp3", "wav"],
)
async def test_the_same_inputs_and_plan_give_the_same_bytes(plan: OutputPlan) -> None:
    inputs = job(plan, image_ref(ms.png(80, 60))) if plan.kind is not AUDIO else job(plan)
    renders = []
    for _ in range(2):  # two pipelines: nothing is shared through a cache
        with ThreadPoolExecutor(1) as pool:
            pipeline = AvPipeline(executor=pool)
            renders.append((await produce(pipeline, inputs))[1].data)
            await pipeline.close()
    assert renders[0] == renders[1]


# Limits and input kinds


async def test_a_length_from_audio_over_the_limit_names_the_field(pipeline: AvPipeline) -> None:
    plan = speech("wav", length_from="voice", max_seconds=(("", 2.0),))
    with pytest.raises(InputRejected) as caught:
        await pipeline.probe(job(plan, audio_ref(ms.wav(2.5), "voice")))
    assert str(caught.value) == (
        "voice: 2.5 s of audio exceeds the 2 s limit (use audio shorter than 2 s)"
    )


async def test_a_planned_length_over_the_limit_is_refused_with_the_longer_resolutions(
    pipeline: AvPipeline,
) -> None:
    table = (("1080p", 5.0), ("720p", 10.0), ("480p", 15.0))
    with pytest.raises(InputRejected) as caught:
        await pipeline.probe(job(video("1080p", seconds=5.0, max_seconds=table)))
    assert str(caught.value) == (
        "5.0 s of video exceeds the 5 s limit at 1080p (ask for less than 5 s, "
        "or resolution 720p for up to 10 s, or 480p for up to 15 s)"
    )
    probe = await pipeline.probe(job(video("720p", seconds=5.0, max_seconds=table)))
    assert probe.duration_seconds == 5.0


async def test_omnihumans_limit_message_is_derived_from_its_table(pipeline: AvPipeline) -> None:
    inputs = omnihuman(data_url(ms.png(32, 32)), data_url(ms.wav(31.0, 4000, 0.1)), "1080p")
    with pytest.raises(InputRejected) as caught:
        await pipeline.probe(inputs)
    assert str(caught.value) == (
        "audio_url: 31.0 s of audio exceeds the 30 s limit at 1080p "
        "(use audio shorter than 30 s, or resolution 720p or 480p for up to 60 s)"
    )


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            InputRef(field="first_frame", kind=IMAGE, url=data_url(ms.wav(0.3))),
            "first_frame: this is WAV audio, not an image (expected JPEG, PNG or WebP)",
        ),
        (
            InputRef(field="voice", kind=AUDIO, url=data_url(ms.png(32, 32))),
            "voice: this is a PNG image, not audio (expected MP3 or WAV)",
        ),
        (
            InputRef(field="clip_url", kind=VIDEO, url=data_url(ms.png(32, 32))),
            "clip_url: video inputs are not supported",
        ),
    ],
)
async def test_each_input_is_validated_as_its_declared_kind(
    pipeline: AvPipeline, ref: InputRef, message: str
) -> None:
    with pytest.raises(InputRejected) as caught:
        await pipeline.probe(job(video("480p", seconds=1.0), ref))
    assert str(caught.value) == message


async def test_the_first_declared_input_that_fails_is_reported(pipeline: AvPipeline) -> None:
    bad_audio = InputRef(field="b_audio", kind=AUDIO, url=data_url(b"noise"))
    bad_image = InputRef(field="a_image", kind=IMAGE, url=data_url(b"noise"))
    with pytest.raises(InputRejected, match=r"^b_audio: could not decode audio"):
        await pipeline.probe(job(video("480p", seconds=1.0), bad_audio, bad_image))


async def test_a_plan_the_pipeline_cannot_make_fails_the_job_clearly(
    pipeline: AvPipeline,
) -> None:
    for plan, message in (
        (image("gif"), "an image output cannot be 'gif' (expected png or jpeg)"),
        (video("480p"), "a video output needs seconds or an audio input to take its length"),
        (speech("wav", length_from="voice"), "length_from 'voice' names no declared input"),
        (video("480p", seconds=1.0, aspect_ratio="9x16"), "aspect ratio '9x16' is not W:H"),
    ):
        with pytest.raises(InputRejected, match="^" + re.escape(message)):
            await pipeline.probe(job(plan))
        with pytest.raises(PlanError):
            check_plan(plan)


def test_file_names_and_content_types_follow_the_plan() -> None:
    names = [
        (video(), "output.mp4", "video/mp4"),
        (image("png"), "output.png", "image/png"),
        (image("jpeg"), "output.jpg", "image/jpeg"),
        (speech("wav"), "output.wav", "audio/wav"),
        (speech("mp3"), "output.mp3", "audio/mpeg"),
    ]
    for plan, name, kind in names:
        assert (output_filename(plan), content_type(plan)) == (name, kind)
    with pytest.raises(PlanError):
        output_filename(speech("ogg"))


# Caching


async def test_an_identical_render_runs_once_and_a_changed_plan_again(
    pipeline: AvPipeline,
) -> None:
    picture = image_ref(ms.png(64, 48))
    plan = video("480p", aspect_ratio="16:9", seconds=1.0)
    first, second = await asyncio.gather(
        produce(pipeline, job(plan, picture)), produce(pipeline, job(plan, picture))
    )
    assert (pipeline.probes, pipeline.renders) == (1, 1)
    assert first[1] is second[1]
    again = await pipeline.probe(job(plan, picture))
    assert pipeline.rendered(again) is first[1]  # a later job needs no render task
    assert (await pipeline.render(again)) is first[1]
    assert (pipeline.probes, pipeline.renders) == (1, 1)
    for changed in (
        replace(plan, aspect_ratio="9:16"),
        replace(plan, seconds=2.0),
        replace(plan, resolution="720p"),
    ):
        await produce(pipeline, job(changed, picture))
    assert (pipeline.probes, pipeline.renders) == (1, 4)
    # the limit does not change the output: the same render serves
    await produce(pipeline, job(replace(plan, max_seconds=(("", 9.0),)), picture))
    assert pipeline.renders == 4


async def test_inputless_outputs_are_cached_by_their_plan(pipeline: AvPipeline) -> None:
    for _ in range(2):
        await produce(pipeline, job(speech("mp3", seconds=1.5)))
        await produce(pipeline, job(image("png", "480p")))
    assert (pipeline.probes, pipeline.renders) == (0, 2)
    await produce(pipeline, job(speech("wav", seconds=1.5)))
    assert pipeline.renders == 3


# Sample mode, the worker process, OmniHuman's bytes


async def test_sample_mode_draws_the_bundled_portrait_for_every_picture() -> None:
    with ThreadPoolExecutor(1) as pool:
        pipeline = AvPipeline(media=MediaConfig(mode=OutputMode.SAMPLE), executor=pool)
        plan = image("png", "480p", aspect_ratio="1:1")
        _, one = await produce(pipeline, job(plan, image_ref(ms.png(32, 32))))
        _, two = await produce(pipeline, job(plan, image_ref(ms.png(90, 40))))
        _, none = await produce(pipeline, job(plan))
        _, clip = await produce(pipeline, job(video("480p", seconds=1.0)))
        _, sound = await produce(pipeline, job(speech("wav", seconds=1.0)))
        await pipeline.close()
    assert one is two is none
    assert pipeline.renders == 3
    assert decode(one.data).size == (480, 480)
    assert decode(clip.data).size == (480, 640)  # the portrait's own aspect
    assert decode(sound.data).seconds == pytest.approx(1.0, rel=0.01)


async def test_every_kind_renders_in_the_worker_process() -> None:
    pipeline = AvPipeline()  # the shared worker processes
    try:
        _, picture = await produce(pipeline, job(image("jpeg", "480p", aspect_ratio="1:1")))
        _, sound = await produce(pipeline, job(speech("mp3", seconds=1.0)))
        _, clip = await produce(
            pipeline, job(video("480p", seconds=0.4), image_ref(ms.png(64, 48)))
        )
    finally:
        await pipeline.close()
    assert (decode(picture.data).codec, decode(sound.data).codec) == ("mjpeg", "mp3float")
    assert decode(clip.data).size == (640, 480)


# The bundled samples rendered as OmniHuman jobs before outputs became plans (sha256), with
# the PyAV (and so FFmpeg and x264) these were recorded with: the lipsync MP4 is unchanged.
RECORDED_WITH = "18.1.0"
OMNIHUMAN_RENDERS = {
    (
        "portrait.png",
        "speech.mp3",
        "480p",
    ): "817620e78a4804ddc441da0f9fd6e0b907a36b7bdb525b64e825c8b6d8cd5308",
    (
        "portrait.png",
        "speech.wav",
        "720p",
    ): "fc99d52b7c3cb5f70d1e7f9db1a9a6157f5b584825e3265e6ed4cb9cf2cff55b",
    (
        "portrait.jpg",
        "speech.mp3",
        "1080p",
    ): "c472c5ba766f67daa84d82068b406adfb407beca013145473dbc39df6deaea0c",
}


@pytest.mark.skipif(av.__version__ != RECORDED_WITH, reason=f"recorded with PyAV {RECORDED_WITH}")
async def test_omnihuman_renders_the_same_bytes_as_before(pipeline: AvPipeline) -> None:
    for (picture, voice, resolution), digest in OMNIHUMAN_RENDERS.items():
        inputs = omnihuman(
            data_url(sample_bytes(picture)), data_url(sample_bytes(voice)), resolution
        )
        seconds, media = await produce(pipeline, inputs)
        assert seconds == pytest.approx(3.0)
        assert hashlib.sha256(media.data).hexdigest() == digest, (picture, voice, resolution)


def test_input_notes_name_each_declared_input_a_sample_stands_in_for() -> None:
    pipeline = AvPipeline()  # offline: other hosts are never contacted
    notes = pipeline.input_notes(
        (
            InputRef(field="first_frame", kind=IMAGE, url="https://cdn.example/a.jpg"),
            InputRef(field="voice", kind=AUDIO, url="https://cdn.example/v.wav"),
            InputRef(field="inline", kind=IMAGE, url=data_url(ms.png(8, 8))),
        )
    )
    assert notes == (
        "first_frame: cdn.example was not contacted (input policy 'offline'); "
        "the bundled sample portrait.jpg stood in",
        "voice: cdn.example was not contacted (input policy 'offline'); "
        "the bundled sample speech.wav stood in",
    )
