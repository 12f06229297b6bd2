"""The seam between the job lifecycle and media handling."""

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
    field: str  # the body field it came from, e.g. "image_url" (used in every message)
    kind: MediaKind  # IMAGE or AUDIO: what its bytes must decode as
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputPlan:
    kind: MediaKind
    format: str  # "mp4" for video; "png" or "jpeg" for image; "wav" or "mp3" for audio
    resolution: str | None  # "480p", "720p" or "1080p" (the short side); None for audio
    aspect_ratio: str | None = None  # "W:H" such as "16:9", "9:16", "1:1"; None: the input image's
    # aspect, or 16:9 when there is no image input
    seconds: float | None = None  # planned length (video, audio); None: the length of the
    # audio input named by length_from
    length_from: str | None = None  # field of the AUDIO input whose decoded duration is the length
    max_seconds: tuple[tuple[str, float], ...] = ()  # the model's limit on the length, per
    # resolution ("" = any resolution); length >= limit is refused


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInputs:
    request_id: str
    model_id: str
    inputs: tuple[InputRef, ...]  # in declared order; may be empty (text-to-image, text-to-speech)
    output: OutputPlan


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What is known once inputs are fetched and decoded: enough to price the job."""

    duration_seconds: float
    resolution: str
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
        """Produce the output video without blocking the event loop."""
        ...

    async def close(self) -> None: ...
