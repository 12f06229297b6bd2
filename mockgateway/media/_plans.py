"""What an output is: its formats, file name and content type, its frame size, and the render
job a worker is handed. Pure: the core names files with it and checks declared models with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._types import InputRef, MediaKind, OutputPlan

SHORT_SIDES = {"480p": 480, "720p": 720, "1080p": 1080}
MAX_ASPECT = 4  # keeps a 1080p output within 4320 pixels on its long side
DEFAULT_ASPECT = "16:9"  # the frame of an output with no input image to take it from

# Per kind, per format: the file extension and the content type.
FORMATS: dict[MediaKind, dict[str, tuple[str, str]]] = {
    MediaKind.VIDEO: {"mp4": ("mp4", "video/mp4")},
    MediaKind.IMAGE: {"png": ("png", "image/png"), "jpeg": ("jpg", "image/jpeg")},
    MediaKind.AUDIO: {"wav": ("wav", "audio/wav"), "mp3": ("mp3", "audio/mpeg")},
}


class PlanError(ValueError):
    """A model's declared output (or inputs) cannot be produced; the message says why."""


def _an(kind: MediaKind) -> str:
    """``an image output``, ``an audio output``, ``a video output``."""
    return ("an " if kind in (MediaKind.IMAGE, MediaKind.AUDIO) else "a ") + f"{kind} output"


def _format(plan: OutputPlan) -> tuple[str, str]:
    formats = FORMATS[MediaKind(plan.kind)]
    found = formats.get(plan.format)
    if found is None:
        raise PlanError(
            f"{_an(plan.kind)} cannot be {plan.format!r} (expected {' or '.join(formats)})"
        )
    return found


def output_filename(plan: OutputPlan) -> str:
    """The output's file name: ``output.mp4``, ``output.png``, ``output.jpg``, ``output.wav``
    or ``output.mp3``.

    >>> output_filename(OutputPlan(kind=MediaKind.IMAGE, format="jpeg", resolution="720p"))
    'output.jpg'
    """
    return "output." + _format(plan)[0]


def content_type(plan: OutputPlan) -> str:
    """The output's media type: ``video/mp4``, ``image/png``, ``image/jpeg``, ``audio/wav`` or
    ``audio/mpeg``."""
    return _format(plan)[1]


def parse_aspect(aspect: str) -> tuple[int, int]:
    """``"16:9"`` as ``(16, 9)``; :class:`PlanError` for anything but two positive integers
    within the longest aspect an output may have."""
    width, sep, height = aspect.partition(":")
    if not (sep and width.isascii() and width.isdigit() and height.isascii() and height.isdigit()):
        raise PlanError(f"aspect ratio {aspect!r} is not W:H (such as 16:9)")
    w, h = int(width), int(height)
    if w <= 0 or h <= 0:
        raise PlanError(f"aspect ratio {aspect!r} needs two positive sides")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise PlanError(
            f"aspect ratio {aspect!r} is too elongated (at most {MAX_ASPECT}:1 either way)"
        )
    return w, h


def is_aspect(value: object) -> bool:
    """Whether ``value`` is an aspect ratio an output may have (:func:`parse_aspect` takes it)."""
    if not isinstance(value, str):
        return False
    try:
        parse_aspect(value)
    except PlanError:
        return False
    return True


def output_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """The output size for a picture: its aspect ratio, short side from the resolution, even
    sides.

    >>> output_size(1600, 900, "720p"), output_size(900, 1600, "1080p")
    ((1280, 720), (1080, 1920))
    """
    short = SHORT_SIDES[resolution]
    if width >= height:
        long = 2 * round(short * width / height / 2)
        return max(2, long), short
    long = 2 * round(short * height / width / 2)
    return short, max(2, long)


def frame_size(resolution: str, aspect: str) -> tuple[int, int]:
    """The pixel size of a ``resolution`` output at ``aspect``: ``("720p", "9:16")`` is
    720x1280."""
    return output_size(*parse_aspect(aspect), resolution)


def length_source(plan: OutputPlan, inputs: tuple[InputRef, ...]) -> InputRef | None:
    """The AUDIO input whose duration is the output's length, or None when ``seconds`` is (or,
    for an image, nothing is). Without either, an audio output takes its first audio input's."""
    if plan.length_from is not None:
        for ref in inputs:
            if ref.field == plan.length_from:
                if ref.kind is not MediaKind.AUDIO:
                    raise PlanError(f"length_from {plan.length_from!r} is not an audio input")
                return ref
        raise PlanError(f"length_from {plan.length_from!r} names no declared input")
    if plan.seconds is not None or plan.kind is MediaKind.IMAGE:
        return None
    for ref in inputs:
        if ref.kind is MediaKind.AUDIO:
            return ref
    raise PlanError(f"{_an(plan.kind)} needs seconds or an audio input to take its length")


def check_plan(plan: OutputPlan, inputs: tuple[InputRef, ...] = ()) -> None:
    """Raise :class:`PlanError` unless the pipeline can produce ``plan`` from ``inputs``."""
    _format(plan)
    if plan.kind is MediaKind.AUDIO:
        if plan.resolution is not None or plan.aspect_ratio is not None:
            raise PlanError("an audio output has no resolution or aspect ratio")
    elif plan.resolution is not None and plan.resolution not in SHORT_SIDES:
        raise PlanError(f"resolution {plan.resolution!r} is not one of {', '.join(SHORT_SIDES)}")
    elif plan.resolution is None:
        raise PlanError(f"{_an(plan.kind)} needs a resolution")
    if plan.aspect_ratio is not None:
        parse_aspect(plan.aspect_ratio)
    if plan.seconds is not None and not plan.seconds > 0:
        raise PlanError(f"seconds must be positive, not {plan.seconds:g}")
    for ref in inputs:
        if ref.kind not in (MediaKind.IMAGE, MediaKind.AUDIO):
            raise PlanError(f"{ref.field}: {ref.kind} inputs are not supported")
    for resolution, limit in plan.max_seconds:
        if resolution and resolution not in SHORT_SIDES:
            raise PlanError(
                f"max_seconds: resolution {resolution!r} is not one of {', '.join(SHORT_SIDES)}"
            )
        if not limit > 0:
            raise PlanError(
                f"max_seconds: the limit at {resolution or 'any resolution'} must be positive"
            )
    length_source(plan, inputs)


@dataclass(frozen=True, slots=True, kw_only=True)
class RenderJob:
    """What a worker renders: the plan's output with the validated input bytes it draws on."""

    kind: MediaKind
    format: str
    resolution: str | None
    aspect_ratio: str | None
    seconds: float | None  # the length; None: the audio's own
    image: bytes | None = field(default=None, repr=False)
    audio: bytes | None = field(default=None, repr=False)
