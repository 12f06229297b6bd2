"""What each frame shows: the scaled image plus a mouth and a level meter driven by loudness
(or, in a video without audio, by a smooth open-and-close).

The image is scaled and converted to yuv420p once; the animated parts are small patches prepared
once per level, so building any frame is a few small copies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._decode import DecodedAudio, decode_image_rgb
from ._plans import output_size
from ._synth import MOUTH_X, MOUTH_Y

FPS = 25
LEVELS = 16
MOTION_PERIOD_SECONDS = 2.0  # a video without audio opens and closes once in this long

_U8 = np.ndarray[Any, np.dtype[np.uint8]]


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


def frame_planes(frame: Any, width: int, height: int) -> tuple[_U8, _U8, _U8]:
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


def apply_patch(planes: tuple[_U8, _U8, _U8], patch: _Patch, level: int) -> None:
    luma, u_plane, v_plane = planes
    y, u, v = patch.versions[level]
    luma[patch.y0 : patch.y0 + patch.h, patch.x0 : patch.x0 + patch.w] = y
    r0, c0 = patch.y0 // 2, patch.x0 // 2
    u_plane[r0 : r0 + patch.h // 2, c0 : c0 + patch.w // 2] = u
    v_plane[r0 : r0 + patch.h // 2, c0 : c0 + patch.w // 2] = v


@dataclass(frozen=True, slots=True)
class Picture:
    """What to draw: the base picture, its animated patches and the level of every frame."""

    base: _U8
    patches: list[_Patch]
    levels: np.ndarray[Any, np.dtype[np.int64]]
    width: int
    height: int


def prepare(image: bytes, audio: DecodedAudio, resolution: str) -> Picture:
    """The lipsync picture: the image at its own aspect, animated by the audio's loudness."""
    rgb = decode_image_rgb(image)
    width, height = output_size(rgb.shape[1], rgb.shape[0], resolution)
    return prepare_rgb(rgb, loudness(audio, frame_count(audio.duration)), width, height)


def prepare_rgb(
    rgb: _U8, levels: np.ndarray[Any, np.dtype[np.int64]], width: int, height: int
) -> Picture:
    """The picture of ``rgb`` scaled to ``width`` x ``height``, showing ``levels`` frame by
    frame."""
    base = _to_yuv420(rgb, width, height)
    return Picture(base, _patches(base, width, height), levels, width, height)


def motion(frames: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Levels for a video without audio: a smooth open-and-close every
    ``MOTION_PERIOD_SECONDS``, starting closed (so keyframes fall where it is)."""
    phase = 2 * np.pi * np.arange(frames) / (MOTION_PERIOD_SECONDS * FPS)
    levels: np.ndarray[Any, np.dtype[np.int64]] = np.rint(
        (LEVELS - 1) * (0.5 - 0.5 * np.cos(phase))
    ).astype(np.int64)
    return levels


def crop_to(rgb: _U8, width: int, height: int) -> _U8:
    """The centre of ``rgb`` at the aspect of ``width`` x ``height`` (what fits it, cut to fill
    the frame rather than letterboxed)."""
    h, w = rgb.shape[0], rgb.shape[1]
    if w * height > h * width:  # wider than the frame: cut the sides
        keep = max(1, min(w, round(h * width / height)))
        x0 = (w - keep) // 2
        return np.ascontiguousarray(rgb[:, x0 : x0 + keep])
    keep = max(1, min(h, round(w * height / width)))
    y0 = (h - keep) // 2
    return np.ascontiguousarray(rgb[y0 : y0 + keep])


def scale_rgb(rgb: _U8, width: int, height: int) -> _U8:
    """``rgb`` resized to ``width`` x ``height`` (bilinear)."""
    import av

    if rgb.shape[1] == width and rgb.shape[0] == height:
        return rgb
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    scaled = frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR")
    out: _U8 = np.ascontiguousarray(scaled.to_ndarray(), dtype=np.uint8)
    return out


def frame_count(duration: float) -> int:
    """Video frames for an audio duration: the nearest whole frame, so lengths agree within one."""
    return max(1, math.floor(duration * FPS + 0.5))
