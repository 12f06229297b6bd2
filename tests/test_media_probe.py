"""Validation by decoding: accepted formats, exact durations, and every rejection's message."""

from __future__ import annotations

import os

import pytest

from mockgateway.media import InputRejected, check_duration, probe_audio, probe_image, sample_bytes
from tests import media_support as ms


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
        (os.urandom(4000), "image_url: could not decode an image (expected JPEG, PNG or WebP)"),
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
        (os.urandom(4000), "audio_url: could not decode audio (expected MP3 or WAV)"),
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
