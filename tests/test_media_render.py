"""The renderer: output size rules, a real H.264/AAC MP4, determinism, and sync with loudness."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
import pytest

from mockgateway.media import output_size, render_mp4, sample_bytes
from mockgateway.media._decode import DecodedAudio
from mockgateway.media._picture import LEVELS, loudness
from mockgateway.media._synth import MOUTH_X, MOUTH_Y, encode_audio
from tests import media_support as ms


@pytest.mark.parametrize(
    ("size", "resolution", "expected"),
    [
        ((1600, 900), "720p", (1280, 720)),
        ((1920, 1080), "1080p", (1920, 1080)),
        ((900, 1600), "1080p", (1080, 1920)),
        ((360, 480), "480p", (480, 640)),
        ((100, 100), "720p", (720, 720)),
        ((1000, 333), "480p", (1442, 480)),
        ((333, 1001), "720p", (720, 2164)),
    ],
)
def test_output_keeps_aspect_with_the_short_side_from_resolution(
    size: tuple[int, int], resolution: str, expected: tuple[int, int]
) -> None:
    width, height = output_size(*size, resolution)
    assert (width, height) == expected
    assert width % 2 == 0
    assert height % 2 == 0


def test_loudness_levels_follow_the_signal() -> None:
    rate = 8000
    silence = np.zeros(rate, dtype=np.float32)
    loud = ms.tone(1.0, rate, amplitude=0.9)
    audio = DecodedAudio(np.concatenate([silence, loud])[None, :], rate, "mono")
    levels = loudness(audio, 50)
    assert set(levels[:25].tolist()) == {0}
    assert set(levels[25:].tolist()) == {LEVELS - 1}


def _decode(data: bytes) -> dict[str, Any]:
    with av.open(io.BytesIO(data)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        frames = [f.to_ndarray(format="gray") for f in container.decode(video)]
        info = {
            "format": container.format.name,
            "duration": container.duration / 1_000_000,
            "video_codec": video.codec_context.name,
            "audio_codec": audio.codec_context.name,
            "size": (video.codec_context.width, video.codec_context.height),
            "rate": video.average_rate,
            "audio_rate": audio.codec_context.sample_rate,
            "video_seconds": float(video.duration * video.time_base),
            "audio_seconds": float(audio.duration * audio.time_base),
        }
    info["frames"] = frames
    return info


def test_render_is_an_h264_aac_mp4_of_the_audio_length() -> None:
    audio = encode_audio(ms.tone(1.3, 16000), 16000, "mp3")
    data = render_mp4(sample_bytes("portrait.png"), audio, "480p")
    info = _decode(data)
    assert "mp4" in info["format"]
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "aac")
    assert info["size"] == (480, 640)
    assert info["rate"] == 25
    assert abs(len(info["frames"]) / 25 - 1.3) <= 0.5 / 25 + 1e-9
    assert info["audio_rate"] == 16000
    assert info["video_seconds"] == pytest.approx(1.3, abs=1 / 25)
    assert info["audio_seconds"] == pytest.approx(1.3, abs=1 / 25)
    assert info["duration"] == pytest.approx(1.3, abs=1 / 25)


def test_render_is_deterministic() -> None:
    image, audio = ms.png(64, 36), ms.wav(0.6, amplitude=0.3)
    assert render_mp4(image, audio, "480p") == render_mp4(image, audio, "480p")


def test_the_mouth_opens_and_the_meter_fills_when_the_audio_is_loud() -> None:
    rate = 8000
    quiet_then_loud = np.concatenate([np.zeros(rate // 2), ms.tone(0.5, rate, 0.9)])
    audio = encode_audio(quiet_then_loud.astype(np.float32), rate, "wav")
    info = _decode(render_mp4(sample_bytes("portrait.png"), audio, "480p"))
    width, height = info["size"]
    frames = info["frames"]
    assert len(frames) == 25
    mx, my = int(width * MOUTH_X), int(height * MOUTH_Y)

    def mouth(frame: np.ndarray[Any, Any]) -> float:
        return float(frame[my - 15 : my + 15, mx - 20 : mx + 20].mean())

    def meter(frame: np.ndarray[Any, Any]) -> float:
        return float(frame[height - 14 : height - 6, :].mean())

    quiet, loud = frames[5], frames[20]
    assert mouth(loud) < mouth(quiet) - 30  # a dark open mouth
    assert meter(loud) > meter(quiet) + 60  # a lit bar across the bottom
    # away from the animated parts the picture does not change
    assert np.abs(quiet[: height // 3].astype(int) - loud[: height // 3].astype(int)).max() <= 3


def test_audio_at_a_rate_aac_lacks_is_resampled_not_refused() -> None:
    stereo = np.stack([ms.tone(0.6, 10000), ms.tone(0.6, 10000, 0.2)])
    audio = encode_audio_stereo(stereo, 10000)
    info = _decode(render_mp4(ms.png(64, 48), audio, "480p"))
    assert info["audio_codec"] == "aac"
    assert info["audio_rate"] == 48000
    assert info["audio_seconds"] == pytest.approx(0.6, abs=1 / 25)


def encode_audio_stereo(samples: np.ndarray[Any, Any], rate: int) -> bytes:
    from fractions import Fraction

    out = io.BytesIO()
    with av.open(out, mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="stereo")
        data = (samples * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(data, format="s16p", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
