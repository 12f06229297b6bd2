"""Decode validated inputs into what rendering works from: RGB pixels and planar float audio."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import numpy as np

AAC_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
)

_U8 = np.ndarray[Any, np.dtype[np.uint8]]
_F32 = np.ndarray[Any, np.dtype[np.float32]]


@dataclass(frozen=True, slots=True)
class DecodedAudio:
    """Planar float samples at their own rate and layout, as decoded from the input."""

    samples: _F32  # shape (channels, n)
    rate: int
    layout: str

    @property
    def duration(self) -> float:
        return int(self.samples.shape[1]) / self.rate


def decode_audio(data: bytes) -> DecodedAudio:
    """Decode the whole first audio stream to planar float32, at its own rate if AAC has it."""
    import av

    chunks: list[_F32] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        if rate not in AAC_RATES:
            rate = 48000
        channels = stream.codec_context.channels
        layout = "stereo" if channels >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(np.asarray(out.to_ndarray(), dtype=np.float32))
        for out in resampler.resample(None):
            chunks.append(np.asarray(out.to_ndarray(), dtype=np.float32))
    n_channels = 2 if layout == "stereo" else 1
    samples = (
        np.concatenate(chunks, axis=1).astype(np.float32)
        if chunks
        else np.zeros((n_channels, 0), dtype=np.float32)
    )
    return DecodedAudio(samples=samples, rate=rate, layout=layout)


def decode_image_rgb(data: bytes) -> _U8:
    """The first picture of an image file as an RGB array."""
    import av

    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(video=0):
            rgb: _U8 = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
            return rgb
    raise ValueError("no picture in the image")
