"""Real media end to end: a served gateway fetches inputs from a loopback server the test starts,
renders, bills by the probed duration and serves the MP4 with Range; every rejection is FAILED,
output null and uncharged."""

from __future__ import annotations

import io
import random
from typing import Any

import av
import pytest
from aiohttp import web

from tests import media_support as ms
from tests.support import DOC_BODY, KEY, Client, manual_config, served

NOISE = random.Random(7).randbytes(4000)  # fixed bytes that decode as nothing


async def run_job(gw: Any, client: Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = await client.generate(body)
    assert answer.status == 202, answer.raw
    await gw.advance(3)
    status = await client.status(answer.body["request_id"])
    assert status.status == 200
    result: dict[str, Any] = status.body
    return result


async def wallet(client: Client) -> dict[str, Any]:
    result: dict[str, Any] = await client.admin("GET", f"wallets/{KEY}")
    return result


def decode(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        return {
            "codecs": (video.codec_context.name, audio.codec_context.name),
            "size": (video.codec_context.width, video.codec_context.height),
            "fps": video.average_rate,
            "duration": container.duration / 1_000_000,
            "audio_rate": audio.codec_context.sample_rate,
            "audio_seconds": float(audio.duration * audio.time_base),
        }


async def test_loopback_inputs_become_a_real_mp4_billed_by_their_length() -> None:
    files = {"/face.png": ms.png(320, 180), "/voice.wav": ms.wav(1.2, rate=16000)}
    async with ms.file_server(files) as inputs, served() as (gw, client):
        body = {
            "image_url": f"{inputs}/face.png",
            "audio_url": f"{inputs}/voice.wav",
            "resolution": "480p",
        }
        status = await run_job(gw, client, body)
        assert status["status"] == "COMPLETED", status
        assert status["error"] is None
        assert status["output"]["media_type"] == "video/mp4"
        (url,) = status["output"]["media_url"]
        assert url.startswith(gw.url)
        assert url.endswith("/output.mp4")
        media = await client.request("GET", url, key=None)
        money = await wallet(client)
    assert media.status == 200
    assert media.headers["Content-Type"] == "video/mp4"
    assert int(media.headers["Content-Length"]) == len(media.raw)
    assert media.headers["ETag"].startswith('"')
    info = decode(media.raw)
    assert info["codecs"] == ("h264", "aac")
    assert info["size"] == (854, 480)
    assert info["fps"] == 25
    assert info["duration"] == pytest.approx(1.2, abs=1 / 25)
    assert info["audio_rate"] == 16000
    assert info["audio_seconds"] == pytest.approx(1.2, abs=1 / 25)
    # ceil(1.2 s) = 2 billed seconds x 0.16, captured; nothing left on hold
    assert (money["balance"], money["held"]) == ("9.68", "0.00")
    assert sorted(ms.hits(inputs)) == ["/face.png", "/voice.wav"]


async def test_portrait_at_1080p_and_mp3_input() -> None:
    files = {"/face.png": ms.png(90, 160), "/voice.mp3": ms.mp3(0.5)}
    async with ms.file_server(files) as inputs, served() as (gw, client):
        status = await run_job(
            gw,
            client,
            {"image_url": f"{inputs}/face.png", "audio_url": f"{inputs}/voice.mp3"},
        )
        assert status["status"] == "COMPLETED", status
        media = await client.request("GET", status["output"]["media_url"][0], key=None)
    info = decode(media.raw)
    assert info["size"] == (1080, 1920)  # 9:16 at the default resolution, 1080p
    assert info["duration"] == pytest.approx(0.5, abs=1 / 25)


async def test_range_head_etag_and_unsatisfiable_ranges() -> None:
    files = {"/face.png": ms.png(64, 64), "/voice.wav": ms.wav(0.4)}
    async with ms.file_server(files) as inputs, served() as (gw, client):
        body = {
            "image_url": f"{inputs}/face.png",
            "audio_url": f"{inputs}/voice.wav",
            "resolution": "480p",
        }
        url = (await run_job(gw, client, body))["output"]["media_url"][0]
        full = await client.request("GET", url, key=None)
        size = len(full.raw)
        first = await client.request("GET", url, key=None, headers={"Range": "bytes=0-99"})
        middle = await client.request("GET", url, key=None, headers={"Range": "bytes=100-"})
        tail = await client.request("GET", url, key=None, headers={"Range": "bytes=-10"})
        past = await client.request(
            "GET", url, key=None, headers={"Range": f"bytes={size}-{size + 10}"}
        )
        head = await client.request("HEAD", url, key=None)
        cached = await client.request(
            "GET", url, key=None, headers={"If-None-Match": full.headers["ETag"]}
        )
    assert full.headers["Accept-Ranges"] == "bytes"
    assert (first.status, first.raw) == (206, full.raw[:100])
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert first.headers["Content-Length"] == "100"
    assert (middle.status, middle.raw) == (206, full.raw[100:])
    assert middle.headers["Content-Range"] == f"bytes 100-{size - 1}/{size}"
    assert (tail.status, tail.raw) == (206, full.raw[-10:])
    assert past.status == 416
    assert past.headers["Content-Range"] == f"bytes */{size}"
    assert (head.status, head.raw) == (200, b"")
    assert head.headers["Content-Length"] == str(size)
    assert head.headers["ETag"] == full.headers["ETag"]
    assert (cached.status, cached.raw) == (304, b"")


async def test_media_links_can_expire() -> None:
    config = manual_config(media={"link_ttl_seconds": 60})
    async with served(config) as (gw, client):
        url = (await run_job(gw, client, DOC_BODY))["output"]["media_url"][0]
        assert (await client.request("GET", url, key=None)).status == 200
        await gw.advance(61)
        expired = await client.request("GET", url, key=None)
    assert expired.status == 403
    assert expired.body == {"error": "Forbidden", "message": "This media link has expired."}


async def test_the_doc_example_works_offline_with_stand_ins() -> None:
    async with served() as (gw, client):
        status = await run_job(gw, client, DOC_BODY)
        assert status["status"] == "COMPLETED", status
        media = await client.request("GET", status["output"]["media_url"][0], key=None)
        job = await client.admin("GET", f"jobs/{status['request_id']}")
        money = await wallet(client)
        journal = await client.admin("GET", "journal")
    (submitted,) = [e for e in journal["entries"] if e["route"] == "generate"]
    assert submitted["notes"] == [
        "image_url: storage.googleapis.com was not contacted (input policy 'offline'); "
        "the bundled sample portrait.png stood in",
        "audio_url: storage.googleapis.com was not contacted (input policy 'offline'); "
        "the bundled sample speech.mp3 stood in",
    ]
    assert job["notes"] == submitted["notes"]
    info = decode(media.raw)
    assert info["codecs"] == ("h264", "aac")
    assert info["size"] == (1080, 1440)  # the 3:4 bundled portrait at 1080p
    assert info["duration"] == pytest.approx(3.0, abs=1 / 25)
    assert job["duration_seconds"] == pytest.approx(3.0)
    assert job["cost"] == "0.48"
    assert money["balance"] == "9.52"


async def test_insufficient_balance_for_the_probed_length_fails_uncharged() -> None:
    async with served() as (gw, client):
        await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.40"})  # 3 s costs 0.48
        status = await run_job(gw, client, DOC_BODY)
        money = await wallet(client)
    assert status["status"] == "FAILED"
    assert status["error"] == "Insufficient Balance: Your wallet does not have enough balance."
    assert status["output"] is None
    assert (money["balance"], money["held"]) == ("0.40", "0.00")


async def test_bundled_samples_are_served_and_usable_as_inputs() -> None:
    config = manual_config(inputs={"policy": "strict"})
    async with served(config) as (gw, client):
        index = await client.admin("GET", "samples")
        sample = await client.request("GET", "/_mock/samples/speech.wav", key=None)
        missing = await client.request("GET", "/_mock/samples/secrets.txt", key=None)
        status = await run_job(
            gw,
            client,
            {
                "image_url": f"{gw.url}/_mock/samples/portrait.webp",
                "audio_url": f"{gw.url}/_mock/samples/speech.wav",
                "resolution": "480p",
            },
        )
    assert {entry["name"] for entry in index["samples"]} == {
        "portrait.png",
        "portrait.jpg",
        "portrait.webp",
        "speech.mp3",
        "speech.wav",
    }
    wav = next(e for e in index["samples"] if e["name"] == "speech.wav")
    assert wav["url"] == f"{gw.url}/_mock/samples/speech.wav"
    assert wav["bytes"] == len(sample.raw)
    assert sample.status == 200
    assert sample.headers["Content-Type"] == "audio/wav"
    assert sample.raw[:4] == b"RIFF"
    assert missing.status == 404
    assert status["status"] == "COMPLETED", status


async def _redirect_away(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data")


REJECTIONS: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    # (case, config sections, body paths or URLs, error prefix)
    (
        "too-long-1080p",
        {},
        {"audio_url": "/long31.wav", "resolution": "1080p"},
        "audio_url: 31.0 s of audio exceeds the 30 s limit at 1080p",
    ),
    (
        "too-long-720p",
        {},
        {"audio_url": "/long61.wav", "resolution": "720p"},
        "audio_url: 61.0 s of audio exceeds the 60 s limit at 720p",
    ),
    (
        "undecodable-image",
        {},
        {"image_url": "/noise.png"},
        "image_url: could not decode an image (expected JPEG, PNG or WebP)",
    ),
    (
        "undecodable-audio",
        {},
        {"audio_url": "/noise.mp3"},
        "audio_url: could not decode audio (expected MP3 or WAV)",
    ),
    (
        "png-as-audio",
        {},
        {"audio_url": "/face.png"},
        "audio_url: this is a PNG image, not audio (expected MP3 or WAV)",
    ),
    (
        "strict-unreachable-host",
        {"inputs": {"policy": "strict"}},
        {"image_url": DOC_BODY["image_url"]},
        "image_url: host storage.googleapis.com is unreachable",
    ),
    (
        "size-limit",
        {"inputs": {"max_bytes": 2000}},
        {"audio_url": "/voice.wav"},  # 4,844 bytes
        "audio_url: the file is larger than the 2000 bytes limit",
    ),
    (
        "timeout",
        {"inputs": {"timeout_seconds": 0.2}},
        {"audio_url": "/slow.wav"},
        "audio_url: 127.0.0.1 did not answer within 0.2 s",
    ),
    (
        "forbidden-redirect",
        {},
        {"image_url": "/moved.png"},
        "image_url: 127.0.0.1 redirected to 169.254.169.254, a host the input policy",
    ),
    (
        "online-metadata-address",
        {"inputs": {"policy": "online"}},
        {"image_url": "http://169.254.169.254/latest/meta-data"},
        "image_url: 169.254.169.254 is a link-local address; only loopback, listed hosts and "
        "public addresses are reached (list it in inputs.allow_hosts)",
    ),
    (
        "online-forbidden-redirect",
        {"inputs": {"policy": "online"}},
        {"image_url": "/moved.png"},
        "image_url: 127.0.0.1 redirected to 169.254.169.254, a host the input policy 'online'",
    ),
    (
        "file-url",
        {},
        {"audio_url": "file:///etc/passwd"},
        "audio_url: file: URLs are not allowed",
    ),
    (
        "unreachable-loopback",
        {},
        {"image_url": "CLOSED"},
        "image_url: 127.0.0.1 is unreachable",
    ),
]


@pytest.mark.parametrize(
    ("config", "fields", "message"),
    [case[1:] for case in REJECTIONS],
    ids=[case[0] for case in REJECTIONS],
)
async def test_every_rejection_is_failed_with_no_output_and_no_charge(
    config: dict[str, Any], fields: dict[str, str], message: str
) -> None:
    files = {
        "/face.png": ms.png(48, 64),
        "/voice.wav": ms.wav(0.3),
        "/long31.wav": ms.wav(31.0, rate=2000, amplitude=0.1),
        "/long61.wav": ms.wav(61.0, rate=2000, amplitude=0.1),
        "/noise.png": NOISE,
        "/noise.mp3": NOISE,
    }
    extra = {"/slow.wav": ms.never_answer, "/moved.png": _redirect_away}
    async with (
        ms.file_server(files, extra) as inputs,
        served(manual_config(**config)) as (
            gw,
            client,
        ),
    ):
        body: dict[str, Any] = {
            "image_url": f"{inputs}/face.png",
            "audio_url": f"{inputs}/voice.wav",
            "resolution": "480p",
        }
        for field, value in fields.items():
            if value == "CLOSED":
                value = ms.closed_port_url()
            body[field] = f"{inputs}{value}" if value.startswith("/") else value
        status = await run_job(gw, client, body)
        money = await wallet(client)
        media = await client.request("GET", f"/v1/{status['request_id']}/output.mp4", key=None)
    assert status["status"] == "FAILED"
    assert status["error"].startswith(message), status["error"]
    assert status["output"] is None
    assert (money["balance"], money["held"]) == ("10.00", "0.00")
    assert media.status == 404
    assert "169.254.169.254" not in str(ms.hits(inputs))


async def test_samples_on_the_configured_public_host_are_read_without_a_fetch() -> None:
    config = manual_config(
        inputs={"policy": "strict"}, server={"public_base_url": "https://gateway.example.test"}
    )
    async with served(config) as (gw, client):
        index = await client.admin("GET", "samples")
        urls = {e["name"]: e["url"] for e in index["samples"]}
        status = await run_job(
            gw,
            client,
            {"image_url": urls["portrait.jpg"], "audio_url": urls["speech.mp3"]},
        )
    assert urls["speech.mp3"] == "https://gateway.example.test/_mock/samples/speech.mp3"
    assert status["status"] == "COMPLETED", status


async def test_jobs_on_inputs_probed_and_rendered_before_share_the_video() -> None:
    async with served() as (gw, client):
        first = await run_job(gw, client, DOC_BODY)
        (url,) = first["output"]["media_url"]
        one = await client.request("GET", url, key=None)  # waits for the render to finish
        again = [await run_job(gw, client, DOC_BODY) for _ in range(3)]
        answers = [await client.request("GET", s["output"]["media_url"][0]) for s in again]
        pipeline = gw.gateway.media
    assert [s["status"] for s in again] == ["COMPLETED"] * 3
    assert one.status == 200
    assert [a.status for a in answers] == [200] * 3
    assert {a.raw for a in answers} == {one.raw}
    assert {a.headers["ETag"] for a in answers} == {one.headers["ETag"]}
    assert (pipeline.probes, pipeline.renders) == (1, 1)
