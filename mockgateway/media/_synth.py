"""Deterministic synthetic media: a face-like portrait and speech-like audio.

The bundled samples in ``fixtures/`` are made from these (``python fixtures/generate.py``), and
tests use them to build inputs of any size, aspect or length without shipping files. Everything is
drawn with numpy from fixed seeds, so the same call gives the same pixels and samples.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import numpy as np

# Where the renderer draws its mouth pulse, as fractions of the picture: the portrait puts its
# mouth there too, so the bundled sample visibly "speaks".
MOUTH_X = 0.5
MOUTH_Y = 0.68

_Image = np.ndarray[Any, np.dtype[np.uint8]]
_Samples = np.ndarray[Any, np.dtype[np.float32]]


def _ellipse(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray[Any, Any]:
    y, x = np.ogrid[:h, :w]
    result: np.ndarray[Any, Any] = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1.0
    return result


def portrait(width: int = 360, height: int = 480) -> _Image:
    """An RGB face-like portrait: background, shoulders, head, hair, eyes, nose and a mouth."""
    h, w = height, width
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    img = np.empty((h, w, 3), dtype=np.uint8)
    img[..., 0] = (70 + 40 * y).astype(np.uint8)
    img[..., 1] = (110 + 30 * y).astype(np.uint8)
    img[..., 2] = (160 - 20 * y).astype(np.uint8)
    s = min(w, h * 0.75)
    cx, mouth_y = w * MOUTH_X, h * MOUTH_Y
    head_cy, head_rx, head_ry = mouth_y - 0.16 * s, 0.27 * s, 0.36 * s

    def paint(mask: np.ndarray[Any, Any], rgb: tuple[int, int, int]) -> None:
        img[mask] = rgb

    paint(_ellipse(h, w, cx, h + 0.05 * s, 0.62 * s, 0.42 * s), (52, 60, 96))
    paint(_ellipse(h, w, cx, mouth_y + 0.18 * s, 0.1 * s, 0.2 * s), (214, 168, 140))
    paint(_ellipse(h, w, cx, head_cy - 0.06 * s, head_rx * 1.1, head_ry * 1.0), (58, 40, 30))
    paint(_ellipse(h, w, cx, head_cy + 0.02 * s, head_rx, head_ry * 0.95), (226, 182, 152))
    for side in (-1, 1):
        ex = cx + side * 0.1 * s
        ey = head_cy - 0.02 * s
        paint(_ellipse(h, w, ex, ey, 0.055 * s, 0.03 * s), (250, 250, 250))
        paint(_ellipse(h, w, ex, ey, 0.024 * s, 0.024 * s), (60, 90, 130))
        paint(_ellipse(h, w, ex, ey, 0.011 * s, 0.011 * s), (15, 15, 20))
        paint(_ellipse(h, w, ex, ey - 0.065 * s, 0.06 * s, 0.012 * s), (70, 50, 40))
    paint(_ellipse(h, w, cx, head_cy + 0.1 * s, 0.025 * s, 0.05 * s), (205, 155, 128))
    paint(_ellipse(h, w, cx, mouth_y, 0.075 * s, 0.022 * s), (170, 80, 80))
    paint(_ellipse(h, w, cx, mouth_y, 0.06 * s, 0.008 * s), (90, 30, 35))
    return img


def speech(seconds: float = 3.0, rate: int = 16000, seed: int = 7) -> _Samples:
    """Mono float32 speech-like audio in [-1, 1]: voiced syllables with pauses between words.

    Harmonics of a wandering pitch are weighted by three vowel-like formant resonances (changing
    per syllable); a syllable envelope (about four per second) with word gaps gives it the rhythm
    of speech. Vectorised, so minutes of it take well under a second.
    """
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n, dtype=np.float64) / rate
    pitch = 120.0 + 18.0 * np.sin(2 * np.pi * 0.7 * t) + 8.0 * np.sin(2 * np.pi * 2.3 * t)
    phase = 2 * np.pi * np.cumsum(pitch / rate)

    vowels = np.array(
        [
            (730, 1090, 2440),
            (270, 2290, 3010),
            (530, 1840, 2480),
            (570, 840, 2410),
            (300, 870, 2240),
        ],
        dtype=np.float64,
    )
    step = 0.26
    starts = np.arange(0.15, seconds, step)
    starts = starts + rng.uniform(-0.03, 0.03, len(starts))
    choice = rng.integers(len(vowels), size=len(starts))
    loud = rng.uniform(0.6, 1.0, len(starts))
    envelope = np.zeros(n)
    formants = np.tile(vowels[0], (n, 1))
    for i, start in enumerate(starts):
        if i % 5 == 4:  # a pause between words
            continue
        a, b = int(start * rate), min(n, int((start + 0.2) * rate))
        if a >= n:
            break
        k = np.arange(b - a) / max(1, b - a)
        envelope[a:b] = np.maximum(envelope[a:b], np.sin(np.pi * k) ** 1.5 * loud[i])
        formants[a:b] = vowels[choice[i]]

    out = np.zeros(n)
    for harmonic in range(1, int(min(4000.0, rate / 2 - 200) / 150) + 1):
        freq = harmonic * pitch
        gain = np.zeros(n)
        for f, bandwidth in zip(range(3), (90.0, 110.0, 160.0), strict=True):
            gain += 1.0 / (1.0 + ((freq - formants[:, f]) / bandwidth) ** 2) / (1.0 + f)
        out += gain * np.sin(harmonic * phase) / harmonic**0.5
    out += 0.01 * rng.standard_normal(n)
    out *= envelope
    peak = float(np.max(np.abs(out))) or 1.0
    return (0.8 * out / peak).astype(np.float32)


def encode_image(rgb: _Image, fmt: str) -> bytes:
    """Encode an RGB array as ``png``, ``jpeg`` or ``webp`` with PyAV."""
    import av

    codec, pix_fmt, options = {
        "png": ("png", "rgb24", {}),
        "jpeg": ("mjpeg", "yuvj420p", {"q:v": "4"}),
        "webp": ("libwebp", "yuv420p", {"quality": "80"}),
    }[fmt]
    ctx: Any = av.CodecContext.create(codec, "w")
    ctx.width, ctx.height = rgb.shape[1], rgb.shape[0]
    ctx.pix_fmt = pix_fmt
    ctx.time_base = Fraction(1, 25)
    if fmt == "jpeg":
        ctx.qmin = ctx.qmax = 3
    ctx.options = options
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(
        format=pix_fmt
    )
    packets = list(ctx.encode(frame)) + list(ctx.encode(None))
    return b"".join(bytes(p) for p in packets)


def encode_audio(samples: _Samples, rate: int, fmt: str, bitrate: int = 32000) -> bytes:
    """Encode mono float samples as ``wav`` (16-bit PCM) or ``mp3`` (LAME) with PyAV."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format=fmt) as container:
        if fmt == "wav":
            stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
            frame_format = "s16"
            data = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
        else:
            stream = container.add_stream("libmp3lame", rate=rate, layout="mono")
            stream.bit_rate = bitrate
            frame_format = "fltp"
            data = samples.astype(np.float32)
        chunk = 1152
        for i in range(0, len(data), chunk):
            piece = data[i : i + chunk]
            frame = av.AudioFrame.from_ndarray(piece[None, :], format=frame_format, layout="mono")
            frame.sample_rate = rate
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()
