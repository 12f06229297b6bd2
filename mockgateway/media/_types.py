"""The seam between the job lifecycle and media handling.

A job reaches the pipeline as :class:`JobInputs`: the media inputs its model declares
(:class:`InputRef`, in declared order) and what the model outputs (:class:`OutputPlan`). The
pipeline answers with a :class:`Probe` (enough to price the job) and later the
:class:`RenderedMedia` of the declared kind.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class InputRejected(Exception):
    """The model rejected a job's inputs; the message is what the job's ``error`` says (FAILED)."""


class MediaKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True, kw_only=True)
class InputRef:
    """One media input of a job: the body field it came from (named in every message), what
    its bytes must decode as (IMAGE or AUDIO), and its URL."""

    field: str
    kind: MediaKind
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputPlan:
    """What a model outputs for a job.

    ``format`` is ``mp4`` for video, ``png`` or ``jpeg`` for an image, ``wav`` or ``mp3`` for
    audio. ``resolution`` (``480p``, ``720p``, ``1080p``: the short side) is None for audio.
    ``aspect_ratio`` (``W:H``) None means the input image's, or 16:9 without one. The length is
    ``seconds``, or when that is None the decoded duration of the AUDIO input named by
    ``length_from``. ``max_seconds`` is the model's limit on the length per resolution (``""``:
    any resolution); a length at or over it is refused.
    """

    kind: MediaKind
    format: str
    resolution: str | None
    aspect_ratio: str | None = None
    seconds: float | None = None
    length_from: str | None = None
    max_seconds: tuple[tuple[str, float], ...] = ()
    length_field: str | None = None  # the body field a requested length came from (for messages)


@dataclass(slots=True, kw_only=True)
class JobInputs:
    """What one job's output is made from (not frozen: one is made for every job, and a frozen
    dataclass costs several times as much to make)."""

    request_id: str
    model_id: str
    inputs: tuple[InputRef, ...]  # in declared order; may be empty (text-to-image, -speech)
    output: OutputPlan


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What is known once inputs are fetched and decoded: enough to price the job."""

    duration_seconds: float | None  # the output's length; None for an image
    resolution: str | None
    notes: tuple[str, ...] = ()
    payload: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderedMedia:
    data: bytes = field(repr=False)
    content_type: str = "video/mp4"
    etag: str = ""

    @classmethod
    def of(cls, data: bytes, content_type: str = "video/mp4") -> RenderedMedia:
        return cls(
            data=data,
            content_type=content_type,
            etag='"' + hashlib.sha256(data).hexdigest()[:32] + '"',
        )


class MediaPipeline(Protocol):
    async def probe(self, inputs: JobInputs) -> Probe:
        """Fetch and validate inputs; raise :class:`InputRejected` to fail the job."""
        ...

    async def render(self, probe: Probe) -> RenderedMedia:
        """Produce the output of the planned kind without blocking the event loop."""
        ...

    async def close(self) -> None: ...
