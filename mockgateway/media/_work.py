"""The work a render worker does: decode-probe inputs and render the output.

Plain functions over bytes, shared by the worker process (:mod:`._worker`) and the in-process
thread executor. This is the module that brings numpy and PyAV in; the serving process imports
it only when renders are configured to run in its own threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._outputs import render as render_output
from ._plans import RenderJob
from ._probe import AudioInfo, ImageInfo, probe_input
from ._types import MediaKind


def probe(inputs: tuple[tuple[str, MediaKind, bytes], ...]) -> tuple[ImageInfo | AudioInfo, ...]:
    """Validate each ``(field, kind, bytes)`` input by decoding it, in declared order (the
    first refusal is the one reported), and measure what it holds."""
    return tuple(probe_input(field, kind, data) for field, kind, data in inputs)


def render(job: RenderJob) -> bytes:
    return render_output(job)


def warm() -> None:
    """Load the codecs now, so the first job does not wait for them."""
    import av  # noqa: F401  (the import is the work)


TASKS: dict[str, Callable[..., Any]] = {"probe": probe, "render": render, "warm": warm}
