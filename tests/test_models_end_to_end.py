"""The example models (examples/models.toml) end to end over loopback: each answers 202, runs the
lifecycle, makes a real output of its kind and length (probed by decoding it), charges its exact
price, and refuses a broken body with a 400 naming the field."""

from __future__ import annotations

import io
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import av
import pytest

from mockgateway import ManualClock, load_config
from mockgateway._clock import ClockMode
from tests.support import DOC_BODY, DOC_HEADERS, KEY, Client, served

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "models.toml"
START = 1_774_951_200.0
IMAGE_URL = DOC_BODY["image_url"]  # the doc's example image: a bundled sample stands in


def example_config() -> Any:
    config = load_config(EXAMPLE)
    return config.with_(clock=replace(config.clock, mode=ClockMode.MANUAL))


def path_of(model_id: str) -> str:
    return f"/{model_id}/v1/{model_id}-request"


async def submit(client: Client, model_id: str, body: Any) -> Any:
    return await client.request("POST", path_of(model_id), body=body, headers=DOC_HEADERS)


async def run(gw: Any, client: Client, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = await submit(client, model_id, body)
    assert answer.status == 202, answer.raw
    request_id = answer.body["request_id"]
    assert request_id.startswith(f"{model_id}_")
    assert answer.body["status"] == "QUEUED"
    first = await client.status(request_id)
    assert first.body["status"] == "QUEUED"
    assert first.body["model_id"] == model_id
    await gw.advance(1)
    assert (await client.status(request_id)).body["status"] == "PROCESSING"
    await gw.advance(5)
    final = await client.status(request_id)
    assert final.status == 200
    result: dict[str, Any] = final.body
    assert result["status"] == "COMPLETED", result
    return result


async def download(client: Client, status: dict[str, Any]) -> tuple[str, bytes]:
    (url,) = status["output"]["media_url"]
    media = await client.request("GET", url, key=None)
    assert media.status == 200, media.raw[:200]
    assert media.headers["Content-Type"] == status["output"]["media_type"]
    return url, media.raw


async def balance(client: Client) -> Decimal:
    wallet = await client.admin("GET", f"wallets/{KEY}")
    assert wallet["held"] == "0.00"
    return Decimal(wallet["balance"])


@pytest.mark.parametrize(
    ("body", "size", "seconds"),
    [
        ({"prompt": "she smiles", "duration": 5}, (1280, 720), 5.0),
        ({"prompt": "she smiles", "duration": 10, "aspect_ratio": "9:16"}, (720, 1280), 10.0),
        (
            {"prompt": "wave", "duration": 5, "resolution": "480p", "aspect_ratio": "1:1"},
            (480, 480),
            5.0,
        ),
    ],
)
async def test_image_to_video_priced_per_request(
    body: dict[str, Any], size: tuple[int, int], seconds: float
) -> None:
    model_id = "acme-image-to-video-v2"
    async with served(example_config(), clock=ManualClock(START)) as (gw, client):
        status = await run(gw, client, model_id, {"image_url": IMAGE_URL, **body})
        assert status["output"]["media_type"] == "video/mp4"
        url, data = await download(client, status)
        assert url.endswith("/output.mp4")
        assert await balance(client) == Decimal("10.00") - Decimal("0.35")
        job = await client.admin("GET", f"jobs/{status['request_id']}")
    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == size
        assert container.duration / 1_000_000 == pytest.approx(seconds, abs=0.08)
    assert job["model_id"] == model_id
    assert job["inputs"] == {"image_url": IMAGE_URL}
    assert job["billing"]["per"] == "request"
    assert job["billing"]["charged"] == "0.35"
    assert job["billing"]["billed_seconds"] == 0


async def test_text_to_image_makes_a_png_of_its_resolution_and_aspect() -> None:
    model_id = "acme-text-to-image-v1"
    async with served(example_config(), clock=ManualClock(START)) as (gw, client):
        body = {"prompt": "a lighthouse", "aspect_ratio": "16:9", "resolution": "720p"}
        status = await run(gw, client, model_id, body)
        assert status["output"]["media_type"] == "image/png"
        url, data = await download(client, status)
        assert url.endswith("/output.png")
        assert await balance(client) == Decimal("9.96")
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height) == (1280, 720)


async def test_text_to_speech_makes_an_mp3_of_its_length_billed_per_second() -> None:
    model_id = "acme-text-to-speech-v1"
    async with served(example_config(), clock=ManualClock(START)) as (gw, client):
        body = {"text": "Your order has shipped.", "duration_seconds": 2.5}
        status = await run(gw, client, model_id, body)
        assert status["output"]["media_type"] == "audio/mpeg"
        url, data = await download(client, status)
        assert url.endswith("/output.mp3")
        # 3 started seconds at 0.015
        assert await balance(client) == Decimal("10.00") - Decimal("0.045")
        job = await client.admin("GET", f"jobs/{status['request_id']}")
    assert job["billing"]["billed_seconds"] == 3
    assert job["billing"]["per"] == "output_second"
    with av.open(io.BytesIO(data)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name.startswith("mp3")  # the decoder: mp3 or mp3float
        decoded = sum(frame.samples for frame in container.decode(audio=0))
        assert decoded / audio.codec_context.sample_rate == pytest.approx(2.5, abs=0.06)


@pytest.mark.parametrize(
    ("model_id", "body", "message"),
    [
        ("acme-image-to-video-v2", {"image_url": IMAGE_URL}, "prompt is required"),
        (
            "acme-image-to-video-v2",
            {"image_url": IMAGE_URL, "prompt": "x", "duration": 7},
            "duration must be one of 5, 10; got 7",
        ),
        ("acme-text-to-image-v1", {"prompt": ""}, "prompt: '' should be non-empty"),
        (
            "acme-text-to-speech-v1",
            {"text": "hi", "voice": "robot"},
            'voice must be one of "alloy", "ember", "sage"; got \'robot\'',
        ),
    ],
)
async def test_a_broken_body_is_a_400_naming_the_field_and_charges_nothing(
    model_id: str, body: dict[str, Any], message: str
) -> None:
    async with served(example_config(), clock=ManualClock(START)) as (_gw, client):
        answer = await submit(client, model_id, body)
        assert answer.status == 400
        assert answer.body == {"error": "Bad Request", "message": message}
        assert await balance(client) == Decimal("10.00")


async def test_a_prompt_is_noted_as_undocumented_only_where_the_model_does_not_declare_it() -> None:
    async with served(example_config(), clock=ManualClock(START)) as (_gw, client):
        omni = {**DOC_BODY, "prompt": "smile"}
        assert (await client.generate(omni)).status == 202
        i2v = {"image_url": IMAGE_URL, "prompt": "smile"}
        assert (await submit(client, "acme-image-to-video-v2", i2v)).status == 202
        journal = await client.admin("GET", "journal")
    notes = {e["path"]: e["notes"] for e in journal["entries"] if e["method"] == "POST"}
    assert any("undocumented fields ignored: prompt" in n for n in notes[path_of_omni()])
    assert not any("undocumented" in n for n in notes[path_of("acme-image-to-video-v2")])


def path_of_omni() -> str:
    return "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"


async def test_a_wallet_that_cannot_pay_a_request_priced_model_gets_the_documented_402() -> None:
    async with served(example_config(), clock=ManualClock(START)) as (_gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.30"})
        answer = await submit(
            client, "acme-image-to-video-v2", {"image_url": IMAGE_URL, "prompt": "x"}
        )
        assert answer.status == 402, answer.raw
        # the image model's 0.04 still fits
        assert (await submit(client, "acme-text-to-image-v1", {"prompt": "x"})).status == 202
