"""The seam between the job lifecycle and media handling."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Protocol


class InputRejected(Exception):
    """The model rejected a job's inputs; the message is what the job's ``error`` says (FAILED)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class JobInputs:
    request_id: str
    model_id: str
    image_url: str
    audio_url: str
    resolution: str


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
