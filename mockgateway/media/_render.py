"""Render the output MP4: the input image with a loudness-driven mouth pulse and level meter.

Pure and deterministic: bytes in, bytes out, no I/O and no event loop, so it can run in a worker
process or thread. Speed comes from doing the expensive work once: the image is scaled and
converted to yuv420p planes a single time, the animated regions are small patches prepared per
loudness level, and x264 (preset ultrafast) sees mostly unchanged macroblocks.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ._synth import MOUTH_X, MOUTH_Y

FPS = 25
LEVELS = 16
SHORT_SIDES = {"480p": 480, "720p": 720, "1080p": 1080}

_U8 = np.ndarray[Any, np.dtype[np.uint8]]
_F32 = np.ndarray[Any, np.dtype[np.float32]]


def output_size(width: int, height: int, resolution: str) -> tuple[int, int]:
    """The output size for an image: its aspect ratio, short side from the resolution, even sides.

    >>> output_size(1600, 900, "720p"), output_size(900, 1600, "1080p")
    ((1280, 720), (1080, 1920))
    """
    short = SHORT_SIDES[resolution]
    if width >= height:
        long = 2 * round(short * width / height / 2)
        return max(2, long), short
    long = 2 * round(short * height / width / 2)
    return short, max(2, long)


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
    """Decode the whole first audio stream to planar float32 at its own rate."""
    import av

    chunks: list[_F32] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
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


def loudness(audio: DecodedAudio, frames: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Per video frame, the audio's loudness as a level in ``0..LEVELS-1``.

    RMS over each 1/25 s window, on a dB scale from -50 dBFS (closed) to -6 dBFS (fully open).
    """
    mono = audio.samples.mean(axis=0) if audio.samples.size else np.zeros(1, dtype=np.float32)
    per = audio.rate / FPS
    edges = np.minimum((np.arange(frames + 1) * per).astype(np.int64), len(mono))
    sq = np.concatenate([[0.0], np.cumsum(mono.astype(np.float64) ** 2)])
    counts = np.maximum(edges[1:] - edges[:-1], 1)
    rms = np.sqrt((sq[edges[1:]] - sq[edges[:-1]]) / counts)
    db = 20 * np.log10(np.maximum(rms, 1e-6))
    unit = np.clip((db + 50.0) / 44.0, 0.0, 1.0)
    levels: np.ndarray[Any, np.dtype[np.int64]] = np.rint(unit * (LEVELS - 1)).astype(np.int64)
    return levels


def _to_yuv420(rgb: _U8, width: int, height: int) -> _U8:
    """Scale an RGB image to the output size and return it as one (h*3/2, w) yuv420p array."""
    import av

    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    scaled = frame.reformat(width=width, height=height, format="yuv420p", interpolation="BILINEAR")
    planes: _U8 = np.asarray(scaled.to_ndarray(), dtype=np.uint8)
    return np.ascontiguousarray(planes)


@dataclass(frozen=True, slots=True)
class _Patch:
    """A rectangle of the yuv420p picture (luma coordinates, even), one version per level."""

    y0: int
    x0: int
    h: int
    w: int
    versions: tuple[tuple[_U8, _U8, _U8], ...]  # (Y, U, V) per level


def _rect(width: int, height: int, cx: float, cy: float, w: float, h: float) -> tuple[int, ...]:
    w2 = max(2, 2 * round(w / 2))
    h2 = max(2, 2 * round(h / 2))
    x0 = min(max(0, 2 * round((cx - w2 / 2) / 2)), width - w2)
    y0 = min(max(0, 2 * round((cy - h2 / 2) / 2)), height - h2)
    return y0, x0, h2, w2


def _patches(base: _U8, width: int, height: int) -> list[_Patch]:
    """The mouth (an opening dark ellipse) and the level meter (a bar at the bottom edge)."""
    luma, u_plane, v_plane = _planes(base, width, height)
    short = min(width, height)
    specs = []

    # Mouth: centred where a portrait's mouth usually is; opens with the level.
    mw, mh = 0.13 * short, 0.09 * short
    y0, x0, ph, pw = _rect(width, height, width * MOUTH_X, height * MOUTH_Y, mw, mh)
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    dx = (xx + 0.5 - pw / 2) / (pw / 2)
    dy = yy + 0.5 - ph / 2
    versions = []
    for level in range(LEVELS):
        opening = (0.06 + 0.94 * level / (LEVELS - 1)) * (ph / 2)
        inside = dx**2 + (dy / opening) ** 2 <= 1.0
        lip = (dx**2 + (dy / (opening + 0.012 * short)) ** 2 <= 1.0) & ~inside
        y = luma[y0 : y0 + ph, x0 : x0 + pw].copy()
        u = u_plane[y0 // 2 : (y0 + ph) // 2, x0 // 2 : (x0 + pw) // 2].copy()
        v = v_plane[y0 // 2 : (y0 + ph) // 2, x0 // 2 : (x0 + pw) // 2].copy()
        y[lip], y[inside] = 95, 35
        u[lip[::2, ::2]], u[inside[::2, ::2]] = 118, 124
        v[lip[::2, ::2]], v[inside[::2, ::2]] = 170, 140
        versions.append((y, u, v))
    specs.append(_Patch(y0, x0, ph, pw, tuple(versions)))

    # Level meter: a green bar growing from the left along the bottom edge.
    bh = max(2, 2 * round(0.012 * short))
    y0, x0, ph, pw = height - bh - 2 * round(0.01 * short), 0, bh, width
    versions = []
    for level in range(LEVELS):
        filled = 2 * round(width * level / (LEVELS - 1) / 2)
        y = luma[y0 : y0 + ph, :].copy()
        u = u_plane[y0 // 2 : (y0 + ph) // 2, :].copy()
        v = v_plane[y0 // 2 : (y0 + ph) // 2, :].copy()
        y[:, :filled], u[:, : filled // 2], v[:, : filled // 2] = 150, 54, 34
        y[:, filled:], u[:, filled // 2 :], v[:, filled // 2 :] = 40, 128, 128
        versions.append((y, u, v))
    specs.append(_Patch(y0, x0, ph, pw, tuple(versions)))
    return specs


def _planes(yuv: _U8, width: int, height: int) -> tuple[_U8, _U8, _U8]:
    """Views of the Y, U and V planes inside one contiguous (h*3/2, w) yuv420p array."""
    flat = yuv.reshape(-1)
    n, q = width * height, width * height // 4
    return (
        flat[:n].reshape(height, width),
        flat[n : n + q].reshape(height // 2, width // 2),
        flat[n + q : n + 2 * q].reshape(height // 2, width // 2),
    )


def _frame_planes(frame: Any, width: int, height: int) -> tuple[_U8, _U8, _U8]:
    """Writable numpy views of a VideoFrame's Y, U and V planes (rows may be padded)."""
    views = []
    for plane, (w, h) in zip(
        frame.planes,
        ((width, height), (width // 2, height // 2), (width // 2, height // 2)),
        strict=True,
    ):
        flat = np.frombuffer(plane, dtype=np.uint8)
        views.append(flat.reshape(h, plane.line_size)[:, :w])
    return views[0], views[1], views[2]


def _apply(planes: tuple[_U8, _U8, _U8], patch: _Patch, level: int) -> None:
    luma, u_plane, v_plane = planes
    y, u, v = patch.versions[level]
    luma[patch.y0 : patch.y0 + patch.h, patch.x0 : patch.x0 + patch.w] = y
    r0, c0 = patch.y0 // 2, patch.x0 // 2
    u_plane[r0 : r0 + patch.h // 2, c0 : c0 + patch.w // 2] = u
    v_plane[r0 : r0 + patch.h // 2, c0 : c0 + patch.w // 2] = v


def render_mp4(image: bytes, audio: bytes, resolution: str, *, x264_threads: int = 2) -> bytes:
    """The lipsync-style MP4 for an image and an audio file (both already validated).

    One VideoFrame is reused for every picture: x264 copies its input during ``encode``, so only
    the small animated patches are rewritten between frames, and only when the level changes.
    """
    import av

    rgb = decode_image_rgb(image)
    decoded = decode_audio(audio)
    width, height = output_size(rgb.shape[1], rgb.shape[0], resolution)
    base = _to_yuv420(rgb, width, height)
    patches = _patches(base, width, height)
    frames = frame_count(decoded.duration)
    levels = loudness(decoded, frames)

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.gop_size = 2 * FPS
        video.codec_context.options = {
            "preset": "ultrafast",
            "qp": "26",
            "threads": str(x264_threads),
            "x264-params": "rc-lookahead=0:sync-lookahead=0",
        }
        sound = container.add_stream("aac", rate=decoded.rate, layout=decoded.layout)
        sound.bit_rate = 96000 if decoded.layout == "mono" else 128000

        frame = av.VideoFrame.from_ndarray(base, format="yuv420p")
        planes = _frame_planes(frame, width, height)
        time_base = Fraction(1, FPS)
        shown = -1
        for index in range(frames):
            level = int(levels[index])
            if level != shown:
                for patch in patches:
                    _apply(planes, patch, level)
                shown = level
            frame.pts, frame.time_base = index, time_base
            container.mux(video.encode(frame))
        container.mux(video.encode(None))

        _encode_audio(container, sound, decoded)
    return out.getvalue()


def _encode_audio(container: Any, stream: Any, decoded: DecodedAudio) -> None:
    import av

    size = 1024
    samples = decoded.samples
    for start in range(0, samples.shape[1], size):
        chunk = np.ascontiguousarray(samples[:, start : start + size])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=decoded.layout)
        frame.sample_rate = decoded.rate
        frame.pts, frame.time_base = start, Fraction(1, decoded.rate)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def frame_count(duration: float) -> int:
    """Video frames for an audio duration: the nearest whole frame, so lengths agree within one."""
    return max(1, math.floor(duration * FPS + 0.5))
