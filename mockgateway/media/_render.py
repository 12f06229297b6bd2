"""Encode an MP4: H.264 pictures from :mod:`._picture` and the audio, if any, as AAC.

Pure and deterministic: bytes in, bytes out, no I/O and no event loop, so it runs in a worker
process or thread. By default x264 encodes one P-frame per loudness level, all predicting from one
IDR of the base picture, and the stream reuses them as disposable frames (see :mod:`._h264`):
a few dozen encoded frames instead of one per 1/25 s. Encoding every frame is the fallback.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from ._decode import DecodedAudio, decode_audio
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
from ._picture import FPS, Picture, apply_patch, frame_planes, prepare

_QP = "26"
KEYFRAME_SECONDS = 2  # after this long, the next silent frame becomes a keyframe
MAX_KEYFRAME_GAP = 10 * FPS  # and after this long, the next frame whatever its level
# No lookahead or scene-cut analysis: the picture barely changes, so they only cost time.
_X264_PARAMS = "rc-lookahead=0:sync-lookahead=0:scenecut=0"


def render_mp4(image: bytes, audio: bytes, resolution: str, *, every_frame: bool = False) -> bytes:
    """The lipsync-style MP4 for an image and an audio file (both already validated).

    By default x264 encodes one P-frame per loudness level and the stream reuses them (see
    :mod:`._h264`); ``every_frame`` (also the fallback) has x264 encode every frame instead.
    """
    decoded = decode_audio(audio)
    return encode_mp4(prepare(image, decoded, resolution), decoded, every_frame=every_frame)


def encode_mp4(picture: Picture, sound: DecodedAudio | None, *, every_frame: bool = False) -> bytes:
    """The MP4 of ``picture``'s frames, with ``sound`` as its AAC track (None: no audio track)."""
    import av

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
        track = None
        if sound is not None:
            track = container.add_stream("aac", rate=sound.rate, layout=sound.layout)
            track.bit_rate = 96000 if sound.layout == "mono" else 128000
            track.codec_context.options = {"aac_coder": "fast"}  # a third of the default's time

        if video_plan is not None:
            _mux_level_frames(container, video, video_plan, picture.levels)
            video_plan.close()
        else:
            _encode_every_frame(container, video, picture)
        if track is not None and sound is not None:
            _encode_audio(container, track, sound)
    return out.getvalue()


def _encode_every_frame(container: Any, video: Any, picture: Picture) -> None:
    """x264 encodes each frame; one VideoFrame is reused, x264 copies it during ``encode``."""
    import av

    frame = av.VideoFrame.from_ndarray(picture.base, format="yuv420p")
    planes = frame_planes(frame, picture.width, picture.height)
    time_base = Fraction(1, FPS)
    shown = -1
    for index, level in enumerate(picture.levels.tolist()):
        if level != shown:
            for patch in picture.patches:
                apply_patch(planes, patch, level)
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


def _level_frames(picture: Picture) -> _LevelFrames:
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
        planes = frame_planes(frame, picture.width, picture.height)
        time_base = Fraction(1, FPS)
        for index, level in enumerate(used):
            for kind, shown in ((av.video.frame.PictureType.I, 0), (None, level)):
                for patch in picture.patches:
                    apply_patch(planes, patch, shown)
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
