"""The H.264 rewriting behind fast renders: bit-level helpers, and frame-exact output."""

from __future__ import annotations

import io
from typing import Any

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockgateway.media import _render
from mockgateway.media._decode import decode_audio
from mockgateway.media._h264 import (
    BitReader,
    Unsupported,
    _ue,
    avcc_parameter_sets,
    escape,
    parse_params,
    slice_template,
    unescape,
    widen_sps,
)
from mockgateway.media._picture import prepare
from mockgateway.media._synth import encode_audio
from tests import media_support as ms


@given(st.binary(max_size=64))
def test_escaping_round_trips_and_leaves_no_start_code(rbsp: bytes) -> None:
    escaped = escape(rbsp)
    assert unescape(escaped) == rbsp
    for code in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert code not in escaped


@given(st.integers(min_value=0, max_value=2**20))
def test_exp_golomb_codes_read_back(value: int) -> None:
    bits = _ue(value) + "1"
    padded = bits + "0" * (-len(bits) % 8)
    reader = BitReader(int(padded, 2).to_bytes(len(padded) // 8, "big"))
    assert reader.ue() == value


def _level_stream(levels: list[float]) -> tuple[bytes, Any, Any]:
    """Audio whose loudness per 1/25 s frame follows ``levels`` (0..1), and its picture."""
    rate = 8000
    per = rate // 25
    t = np.arange(per * len(levels)) / rate
    envelope = np.repeat(np.asarray(levels, dtype=np.float64), per)
    samples = (0.9 * envelope * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    audio = encode_audio(samples, rate, "wav")
    decoded = decode_audio(audio)
    return audio, prepare(ms.png(160, 90), decoded, "480p"), decoded


def test_parameter_sets_widen_to_16_bit_counters() -> None:
    _, picture, _ = _level_stream([0.0, 1.0])
    plan = _render._level_frames(picture)
    try:
        _, pps, _ = avcc_parameter_sets(bytes(plan.template.codec_context.extradata))
        wide_sps, wide_pps, _ = avcc_parameter_sets(plan.extradata)
    finally:
        plan.close()
    assert wide_pps == pps
    params = parse_params(wide_sps, pps)
    assert (params.log2_max_frame_num, params.log2_max_poc_lsb) == (16, 16)
    assert widen_sps(wide_sps) == wide_sps


def test_a_non_slice_is_refused() -> None:
    _, picture, _ = _level_stream([0.0])
    plan = _render._level_frames(picture)
    try:
        sps, pps, _ = avcc_parameter_sets(plan.extradata)
    finally:
        plan.close()
    with pytest.raises(Unsupported):
        slice_template(sps, parse_params(sps, pps))


def _frames(data: bytes) -> list[np.ndarray[Any, Any]]:
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="yuv420p") for f in container.decode(video=0)]


def test_every_frame_decodes_to_exactly_its_levels_picture() -> None:
    """Any order of levels, including long runs past a keyframe, decodes bit-exactly."""
    pattern = [0.0, 1.0, 0.3, 0.3, 0.05, 1.0, 0.6, 0.0, 0.0, 0.8] * 8  # 80 frames, 3.2 s
    audio, picture, _ = _level_stream(pattern)
    plan = _render._level_frames(picture)
    try:
        plan.source.seek(0)
        pairs = [f.to_ndarray(format="yuv420p") for f in plan.source.decode(video=0)]
    finally:
        plan.close()
    used = sorted({0, *picture.levels.tolist()})
    assert len(used) >= 5
    reference = {level: pairs[2 * i + 1] for i, level in enumerate(used)}
    keyframe = pairs[0]

    data = _render.render_mp4(ms.png(160, 90), audio, "480p")
    with av.open(io.BytesIO(data)) as container:
        flagged = [p.is_keyframe for p in container.demux(video=0) if p.size]
    assert flagged[0]
    assert sum(flagged) >= 2  # a silent frame after KEYFRAME_SECONDS became a keyframe too
    frames = _frames(data)
    assert len(frames) == len(pattern)
    keyframes = 0
    for index, (frame, level) in enumerate(zip(frames, picture.levels.tolist(), strict=True)):
        if np.array_equal(frame, keyframe) and level == 0:
            keyframes += 1
            continue
        assert np.array_equal(frame, reference[level]), f"frame {index} (level {level})"
    assert keyframes >= 2  # the first frame, and a silent frame after KEYFRAME_SECONDS


def test_fast_and_every_frame_renders_show_the_same_pictures() -> None:
    audio, _, _ = _level_stream([0.0, 0.2, 1.0, 1.0, 0.5, 0.0] * 4)
    fast = _frames(_render.render_mp4(ms.png(160, 90), audio, "480p"))
    slow = _frames(_render.render_mp4(ms.png(160, 90), audio, "480p", every_frame=True))
    assert len(fast) == len(slow) == 24
    for a, b in zip(fast, slow, strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0
