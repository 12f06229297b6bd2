"""Validate inputs by decoding them, never by their name or Content-Type.

Images must decode as JPEG, PNG or WebP; audio as MP3 or WAV, whose exact duration comes from
counting decoded samples. Every refusal is an :class:`InputRejected` whose message names the field
and says what to change. Pure and synchronous; callers run it in a thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from ._limits import OMNIHUMAN_MAX_SECONDS, Limits, check_length
from ._plans import MAX_ASPECT
from ._types import InputRejected, MediaKind

IMAGE_CODECS = {"png": "PNG", "mjpeg": "JPEG", "webp": "WebP"}
AUDIO_CONTAINERS = {"mp3": "MP3", "wav": "WAV"}
MAX_IMAGE_SIDE = 8192
MAX_IMAGE_PIXELS = 40_000_000
_FORMAT_NAMES = {"mov": "MP4/M4A", "matroska": "Matroska/WebM", "ogg": "Ogg", "flac": "FLAC"}

_STILL_CODECS = frozenset({"png", "mjpeg", "webp", "gif", "bmp", "tiff", "jpegls", "jpeg2000"})
_EXPECT_IMAGE = "(expected JPEG, PNG or WebP)"
_EXPECT_AUDIO = "(expected MP3 or WAV)"


@dataclass(frozen=True, slots=True)
class ImageInfo:
    width: int
    height: int
    format: str  # "PNG", "JPEG" or "WebP"


@dataclass(frozen=True, slots=True)
class AudioInfo:
    duration: float
    rate: int
    channels: int
    format: str  # "MP3" or "WAV"


def _open(data: bytes) -> Any:
    import av

    try:
        return av.open(io.BytesIO(data), mode="r")
    except Exception:  # hostile bytes may fail anywhere in the demuxer
        return None


def _kind_of(container: Any) -> str:
    """What a file of the wrong kind turned out to be, for the rejection message."""
    streams = container.streams
    if streams.video:
        name = str(streams.video[0].codec_context.name)
        if name in _STILL_CODECS:
            return f"a {IMAGE_CODECS.get(name, name.upper())} image"
        return f"a video ({name.upper()})"
    if streams.audio:
        fmt = container.format.name.split(",")[0]
        return f"{_FORMAT_NAMES.get(fmt, fmt.upper())} audio"
    return "something else"


def probe_image(field: str, data: bytes) -> ImageInfo:
    """Decode the first picture of ``data``; reject anything but a sane JPEG, PNG or WebP."""
    container = _open(data)
    if container is None:
        raise InputRejected(f"{field}: could not decode an image {_EXPECT_IMAGE}")
    with container:
        streams = container.streams
        if not streams.video and not streams.audio:
            raise InputRejected(f"{field}: could not decode an image {_EXPECT_IMAGE}")
        if not streams.video:
            raise InputRejected(
                f"{field}: this is {_kind_of(container)}, not an image {_EXPECT_IMAGE}"
            )
        stream = streams.video[0]
        codec = str(stream.codec_context.name)
        if codec not in IMAGE_CODECS:
            raise InputRejected(
                f"{field}: {codec.upper()} images are not supported {_EXPECT_IMAGE}"
            )
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        _check_image_size(field, width, height)
        try:
            frame = next(iter(container.decode(stream)), None)
        except Exception:
            frame = None
        if frame is None or frame.width <= 0 or frame.height <= 0:
            raise InputRejected(f"{field}: could not decode an image {_EXPECT_IMAGE}")
        _check_image_size(field, int(frame.width), int(frame.height))
        return ImageInfo(int(frame.width), int(frame.height), IMAGE_CODECS[codec])


def _check_image_size(field: str, width: int, height: int) -> None:
    if max(width, height) > MAX_IMAGE_SIDE or width * height > MAX_IMAGE_PIXELS:
        raise InputRejected(
            f"{field}: {width}x{height} pixels is too large "
            f"(at most {MAX_IMAGE_SIDE} pixels a side, "
            f"{MAX_IMAGE_PIXELS // 1_000_000} megapixels in all)"
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise InputRejected(
            f"{field}: a {width}x{height} image is too elongated "
            f"(the long side may be at most {MAX_ASPECT} times the short side)"
        )


def probe_audio(field: str, data: bytes) -> AudioInfo:
    """Decode all of ``data`` as MP3 or WAV and measure its exact duration."""
    container = _open(data)
    if container is None:
        raise InputRejected(f"{field}: could not decode audio {_EXPECT_AUDIO}")
    with container:
        streams = container.streams
        fmt = str(container.format.name).split(",")[0]
        if not streams.audio and not streams.video:
            raise InputRejected(f"{field}: could not decode audio {_EXPECT_AUDIO}")
        if not streams.audio:
            raise InputRejected(
                f"{field}: this is {_kind_of(container)}, not audio {_EXPECT_AUDIO}"
            )
        if fmt not in AUDIO_CONTAINERS:
            name = _FORMAT_NAMES.get(fmt, fmt.upper())
            raise InputRejected(f"{field}: {name} audio is not supported {_EXPECT_AUDIO}")
        stream = streams.audio[0]
        samples = 0
        rate = int(stream.codec_context.sample_rate or 0)
        try:
            for frame in container.decode(stream):
                samples += int(frame.samples)
                rate = int(frame.sample_rate) or rate
        except Exception:
            raise InputRejected(f"{field}: could not decode audio {_EXPECT_AUDIO}") from None
        if samples == 0 or rate <= 0:
            raise InputRejected(f"{field}: the file holds no audio {_EXPECT_AUDIO}")
        channels = int(stream.codec_context.channels or 1)
        return AudioInfo(samples / rate, rate, channels, AUDIO_CONTAINERS[fmt])


def check_duration(
    field: str, seconds: float, resolution: str, limits: Limits = OMNIHUMAN_MAX_SECONDS
) -> None:
    """Audio must be shorter than the limit at ``resolution`` (by default OmniHuman's: 30 s at
    1080p and 60 s at 720p and 480p)."""
    check_length(field, seconds, resolution, limits, "audio")


def probe_input(field: str, kind: MediaKind, data: bytes) -> ImageInfo | AudioInfo:
    """Validate ``data`` as an input of ``kind``, naming ``field`` in any refusal."""
    if kind is MediaKind.IMAGE:
        return probe_image(field, data)
    if kind is MediaKind.AUDIO:
        return probe_audio(field, data)
    raise InputRejected(f"{field}: {kind} inputs are not supported")
