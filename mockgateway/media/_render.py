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

from ._h264 import (
    SliceTemplate,
    Unsupported,
    avcc_parameter_sets,
    join_nals,
    parse_params,
    slice_template,
    split_nals,
    widen_avcc,
    widen_sps,
)
from ._synth import MOUTH_X, MOUTH_Y

FPS = 25
LEVELS = 16
# No lookahead or scene-cut analysis: the picture barely changes, so they only cost time.
_X264_PARAMS = "rc-lookahead=0:sync-lookahead=0:scenecut=0"
AAC_RATES = frozenset(
    {96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}
)
_QP = "26"
KEYFRAME_SECONDS = 2  # after this long, the next silent frame becomes a keyframe
MAX_KEYFRAME_GAP = 10 * FPS  # and after this long, the next frame whatever its level
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
    """Decode the whole first audio stream to planar float32, at its own rate if AAC has it."""
    import av

    chunks: list[_F32] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        if rate not in AAC_RATES:
            rate = 48000
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


@dataclass(frozen=True, slots=True)
class _Picture:
    """What to draw: the base picture, its animated patches and the level of every frame."""

    base: _U8
    patches: list[_Patch]
    levels: np.ndarray[Any, np.dtype[np.int64]]
    width: int
    height: int


def _prepare(image: bytes, audio: DecodedAudio, resolution: str) -> _Picture:
    rgb = decode_image_rgb(image)
    width, height = output_size(rgb.shape[1], rgb.shape[0], resolution)
    base = _to_yuv420(rgb, width, height)
    levels = loudness(audio, frame_count(audio.duration))
    return _Picture(base, _patches(base, width, height), levels, width, height)


def render_mp4(image: bytes, audio: bytes, resolution: str, *, every_frame: bool = False) -> bytes:
    """The lipsync-style MP4 for an image and an audio file (both already validated).

    By default x264 encodes one P-frame per loudness level and the stream reuses them (see
    :mod:`._h264`); ``every_frame`` (also the fallback) has x264 encode every frame instead.
    """
    import av

    decoded = decode_audio(audio)
    picture = _prepare(image, decoded, resolution)
    video_plan = None
    if not every_frame:
        try:
            video_plan = _level_frames(picture)
        except Unsupported:
            video_plan = None

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        if video_plan is not None:
            video = container.add_stream_from_template(video_plan.template)
            video.codec_context.extradata = video_plan.extradata
        else:
            video = container.add_stream("libx264", rate=FPS)
            video.width, video.height, video.pix_fmt = picture.width, picture.height, "yuv420p"
            video.codec_context.gop_size = 5 * FPS  # a keyframe every 5 s: seekable, cheap
            video.codec_context.options = {
                "preset": "ultrafast",
                "qp": _QP,
                "threads": "2",
                "x264-params": _X264_PARAMS,
            }
        sound = container.add_stream("aac", rate=decoded.rate, layout=decoded.layout)
        sound.bit_rate = 96000 if decoded.layout == "mono" else 128000
        sound.codec_context.options = {"aac_coder": "fast"}  # a third of the default's time

        if video_plan is not None:
            _mux_level_frames(container, video, video_plan, picture.levels)
            video_plan.close()
        else:
            _encode_every_frame(container, video, picture)
        _encode_audio(container, sound, decoded)
    return out.getvalue()


def _encode_every_frame(container: Any, video: Any, picture: _Picture) -> None:
    """x264 encodes each frame; one VideoFrame is reused, x264 copies it during ``encode``."""
    import av

    frame = av.VideoFrame.from_ndarray(picture.base, format="yuv420p")
    planes = _frame_planes(frame, picture.width, picture.height)
    time_base = Fraction(1, FPS)
    shown = -1
    for index, level in enumerate(picture.levels.tolist()):
        if level != shown:
            for patch in picture.patches:
                _apply(planes, patch, level)
            shown = level
        frame.pts, frame.time_base = index, time_base
        container.mux(video.encode(frame))
    container.mux(video.encode(None))


@dataclass(slots=True)
class _LevelFrames:
    """An encoded IDR of the base picture and, per level, a P-frame predicting from it."""

    source: Any  # the demuxer the template stream belongs to; closed after muxing
    template: Any
    extradata: bytes  # the template's avcC with the widened SPS
    idr: bytes
    slices: dict[int, list[SliceTemplate | bytes]]
    length_size: int

    def close(self) -> None:
        self.source.close()


def _level_frames(picture: _Picture) -> _LevelFrames:
    """Encode [IDR(level 0), P(level L)] for every level used, then cut the P-slices."""
    import av

    used = sorted({0, *picture.levels.tolist()})
    encoded = io.BytesIO()
    with av.open(encoded, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = picture.width, picture.height, "yuv420p"
        video.codec_context.options = {
            "preset": "ultrafast",
            "qp": _QP,
            "threads": "2",
            "forced-idr": "1",
            # b-frames allowed (never used) so x264 writes pic_order_cnt_lsb in every slice
            "x264-params": "bframes=1:b-adapt=0:b-pyramid=none:keyint=1000:" + _X264_PARAMS,
        }
        frame = av.VideoFrame.from_ndarray(picture.base, format="yuv420p")
        planes = _frame_planes(frame, picture.width, picture.height)
        time_base = Fraction(1, FPS)
        for index, level in enumerate(used):
            for kind, shown in ((av.video.frame.PictureType.I, 0), (None, level)):
                for patch in picture.patches:
                    _apply(planes, patch, shown)
                frame.pict_type = kind or av.video.frame.PictureType.NONE
                frame.pts, frame.time_base = 2 * index + (kind is None), time_base
                container.mux(video.encode(frame))
        container.mux(video.encode(None))

    source = av.open(io.BytesIO(encoded.getvalue()), mode="r")
    try:
        stream = source.streams.video[0]
        extradata = bytes(stream.codec_context.extradata or b"")
        sps, pps, length_size = avcc_parameter_sets(extradata)
        params = parse_params(sps, pps)
        packets = [bytes(p) for p in source.demux(stream) if p.size]
        if len(packets) != 2 * len(used):
            raise Unsupported("unexpected packet count")

        def cut(packet: bytes) -> list[SliceTemplate | bytes]:
            return [
                slice_template(nal, params) if nal[0] & 0x1F in (1, 5) else nal
                for nal in split_nals(packet, length_size)
            ]

        idr = join_nals(
            [n.at(0, 0) if isinstance(n, SliceTemplate) else n for n in cut(packets[0])],
            length_size,
        )
        slices = {level: cut(packets[2 * i + 1]) for i, level in enumerate(used)}
        wide = widen_avcc(extradata, widen_sps(sps))
        return _LevelFrames(source, stream, wide, idr, slices, length_size)
    except BaseException:
        source.close()
        raise


def _mux_level_frames(container: Any, video: Any, plan: _LevelFrames, levels: Any) -> None:
    """Frame by frame: the IDR where a keyframe is due (in a silent frame when there is one),
    else the disposable P-frame of that frame's level, numbered from the last IDR."""
    import av

    time_base = Fraction(1, FPS)
    since_idr = 0
    for index, level in enumerate(levels.tolist()):
        keyframe = (
            index == 0
            or since_idr >= MAX_KEYFRAME_GAP
            or (level == 0 and since_idr >= KEYFRAME_SECONDS * FPS)
        )
        if keyframe:
            data, since_idr = plan.idr, 0
        else:
            since_idr += 1
            nals = [
                n.at(1, 2 * since_idr) if isinstance(n, SliceTemplate) else n
                for n in plan.slices[level]
            ]
            data = join_nals(nals, plan.length_size)
        packet = av.Packet(data)
        packet.stream = video
        packet.pts = packet.dts = index
        packet.time_base = time_base
        packet.is_keyframe = keyframe
        container.mux(packet)


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
