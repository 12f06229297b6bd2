"""Validation by decoding: accepted formats, exact durations, and every rejection's message."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway.media import InputRejected, check_duration, probe_audio, probe_image, sample_bytes
from tests import media_support as ms

NOISE = random.Random(7).randbytes(4000)  # fixed bytes that decode as nothing


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("portrait.png", "PNG"), ("portrait.jpg", "JPEG"), ("portrait.webp", "WebP")],
)
def test_bundled_images_decode_with_their_size_and_format(name: str, fmt: str) -> None:
    info = probe_image("image_url", sample_bytes(name))
    assert (info.width, info.height, info.format) == (360, 480, fmt)


@pytest.mark.parametrize(("name", "fmt"), [("speech.mp3", "MP3"), ("speech.wav", "WAV")])
def test_bundled_audio_lasts_exactly_three_seconds(name: str, fmt: str) -> None:
    info = probe_audio("audio_url", sample_bytes(name))
    assert info.format == fmt
    assert info.rate == 11025
    assert info.duration == pytest.approx(3.0, abs=1e-9)


def test_wav_duration_is_counted_from_samples_not_the_header() -> None:
    assert probe_audio("audio_url", ms.wav(34.9)).duration == pytest.approx(34.9, abs=1e-9)
    assert probe_audio("audio_url", ms.wav(1.2345, rate=8000)).duration == pytest.approx(
        9876 / 8000
    )


def test_mp3_duration_excludes_encoder_padding() -> None:
    assert probe_audio("audio_url", ms.mp3(1.5)).duration == pytest.approx(1.5, abs=0.001)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (NOISE, "image_url: could not decode an image (expected JPEG, PNG or WebP)"),
        (b"", "image_url: could not decode an image (expected JPEG, PNG or WebP)"),
        (ms.wav(0.5), "image_url: this is WAV audio, not an image (expected JPEG, PNG or WebP)"),
        (ms.encode_other_image("gif"), "image_url: GIF images are not supported"),
        (ms.encode_other_image("bmp"), "image_url: BMP images are not supported"),
    ],
    ids=["random", "empty", "wav", "gif", "bmp"],
)
def test_image_rejections_name_the_field_and_what_is_expected(data: bytes, message: str) -> None:
    with pytest.raises(InputRejected) as caught:
        probe_image("image_url", data)
    assert str(caught.value).startswith(message)


def test_truncated_png_is_rejected() -> None:
    data = sample_bytes("portrait.png")
    with pytest.raises(InputRejected, match=r"^image_url: could not decode an image"):
        probe_image("image_url", data[: len(data) // 3])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (NOISE, "audio_url: could not decode audio (expected MP3 or WAV)"),
        (sample_bytes("portrait.png"), "audio_url: this is a PNG image, not audio"),
        (ms.flac(), "audio_url: FLAC audio is not supported (expected MP3 or WAV)"),
        (ms.wav(0.0), "audio_url: could not decode audio (expected MP3 or WAV)"),
    ],
    ids=["random", "png", "flac", "empty-wav"],
)
def test_audio_rejections_name_the_field_and_what_is_expected(data: bytes, message: str) -> None:
    with pytest.raises(InputRejected) as caught:
        probe_audio("audio_url", data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("seconds", "resolution"),
    [(29.99, "1080p"), (59.99, "720p"), (59.99, "480p"), (0.04, "1080p")],
)
def test_audio_under_the_limit_passes(seconds: float, resolution: str) -> None:
    check_duration("audio_url", seconds, resolution)


@pytest.mark.parametrize(
    ("seconds", "resolution", "message"),
    [
        (34.9, "1080p", "audio_url: 34.9 s of audio exceeds the 30 s limit at 1080p"),
        (30.0, "1080p", "audio_url: 30.0 s of audio exceeds the 30 s limit at 1080p"),
        (30.04, "1080p", "audio_url: 30.04 s of audio exceeds the 30 s limit at 1080p"),
        (60.0, "720p", "audio_url: 60.0 s of audio exceeds the 60 s limit at 720p"),
        (75.25, "480p", "audio_url: 75.2 s of audio exceeds the 60 s limit at 480p"),
    ],
)
def test_audio_at_or_over_the_limit_is_rejected(
    seconds: float, resolution: str, message: str
) -> None:
    with pytest.raises(InputRejected) as caught:
        check_duration("audio_url", seconds, resolution)
    assert str(caught.value).startswith(message)


def test_a_1080p_rejection_suggests_a_lower_resolution() -> None:
    with pytest.raises(InputRejected, match=r"720p or 480p for up to 60 s"):
        check_duration("audio_url", 45.0, "1080p")


def test_elongated_images_are_rejected() -> None:
    with pytest.raises(InputRejected) as caught:
        probe_image("image_url", ms.png(400, 90))
    assert str(caught.value) == (
        "image_url: a 400x90 image is too elongated "
        "(the long side may be at most 4 times the short side)"
    )
    assert probe_image("image_url", ms.png(360, 90)).width == 360


def test_m4a_audio_is_named_in_its_rejection() -> None:
    import io
    from fractions import Fraction

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=16000, layout="mono")
        samples = ms.tone(0.5, 16000)
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[None, start : start + 1024]),
                format="fltp",
                layout="mono",
            )
            frame.sample_rate, frame.pts, frame.time_base = 16000, start, Fraction(1, 16000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.raises(InputRejected) as caught:
        probe_audio("audio_url", out.getvalue())
    assert str(caught.value) == "audio_url: MP4/M4A audio is not supported (expected MP3 or WAV)"


def _rejection(probe: Any, field: str, data: bytes) -> str | None:
    """The rejection message, or None when the bytes were accepted."""
    try:
        probe(field, data)
    except InputRejected as exc:
        return str(exc)
    return None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_arbitrary_bytes_never_crash_the_probes(data: bytes) -> None:
    for field, probe in (("image_url", probe_image), ("audio_url", probe_audio)):
        message = _rejection(probe, field, data)
        assert message is None or message.startswith(f"{field}: ")


@pytest.mark.parametrize("cut", [0.25, 0.5, 0.9])
def test_truncated_samples_are_rejected_or_shorter_never_a_crash(cut: float) -> None:
    for name, probe in (("portrait.webp", probe_image), ("speech.mp3", probe_audio)):
        data = sample_bytes(name)
        message = _rejection(probe, "field", data[: int(len(data) * cut)])
        assert message is None or message.startswith("field: ")
