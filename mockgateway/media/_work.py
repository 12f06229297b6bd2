"""The work a render worker does: decode-probe inputs and render the MP4.

Plain functions over bytes, shared by the worker process (:mod:`._worker`) and the in-process
thread executor. This is the module that brings numpy and PyAV in; the serving process imports
it only when renders are configured to run in its own threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._probe import AudioInfo, probe_audio, probe_image
from ._render import render_mp4


def probe(image: bytes, audio: bytes) -> AudioInfo:
    """Validate both inputs by decoding them (image first) and measure the audio."""
    probe_image("image_url", image)
    return probe_audio("audio_url", audio)


def render(image: bytes, audio: bytes, resolution: str) -> bytes:
    return render_mp4(image, audio, resolution)


def warm() -> None:
    """Load the codecs now, so the first job does not wait for them."""
    import av  # noqa: F401  (the import is the work)


TASKS: dict[str, Callable[..., Any]] = {"probe": probe, "render": render, "warm": warm}
