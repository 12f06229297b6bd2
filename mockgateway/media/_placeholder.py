"""A stand-in pipeline: a fixed duration and a small generated clip, no input fetching."""

from __future__ import annotations

import asyncio
import io
from fractions import Fraction

from ._types import JobInputs, Probe, RenderedMedia


def _clip(seconds: float) -> bytes:
    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 36, "yuv420p"
        frame = av.VideoFrame.from_ndarray(np.zeros((36, 64, 3), dtype=np.uint8), format="rgb24")
        for i in range(max(1, round(seconds * 25))):
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


class PlaceholderPipeline:
    def __init__(self, duration_seconds: float = 5.0) -> None:
        self.duration_seconds = duration_seconds
        self._clip: RenderedMedia | None = None

    async def probe(self, inputs: JobInputs) -> Probe:
        return Probe(duration_seconds=self.duration_seconds, resolution=inputs.resolution)

    async def render(self, probe: Probe) -> RenderedMedia:
        if self._clip is None:
            data = await asyncio.to_thread(_clip, self.duration_seconds)
            self._clip = RenderedMedia.of(data)
        return self._clip

    async def close(self) -> None:
        return None
