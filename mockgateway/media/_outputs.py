"""Render an output of any planned kind from a :class:`~._plans.RenderJob`.

* A video with an audio input is the lipsync MP4 of :mod:`._render`: the image (or a generated
  portrait) animated by the audio's loudness, with the audio as its AAC track.
* A video without one is the same picture opening and closing smoothly (:func:`._picture.motion`),
  ``seconds`` long, with no audio track: what an image-to-video model gives.
* An image is the input image fitted to the frame (or a generated portrait), as PNG or JPEG.
* Audio is speech-like synthetic audio (:mod:`._synth`), ``seconds`` long, as WAV or MP3.

Pure and deterministic: bytes in, bytes out, run in a worker process or thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._decode import DecodedAudio, decode_audio, decode_image_rgb
from ._picture import crop_to, frame_count, loudness, motion, prepare_rgb, scale_rgb
from ._plans import DEFAULT_ASPECT, RenderJob, frame_size, output_size
from ._render import encode_mp4
from ._synth import encode_audio, encode_image, portrait, speech
from ._types import MediaKind

DEFAULT_RESOLUTION = "720p"  # an image or video planned without one
GENERATED_SHORT_SIDE = 360  # a generated portrait is drawn this size, then scaled
SPEECH_RATE = 24000  # synthetic speech: the rate text-to-speech models commonly give
SPEECH_BITRATE = 48000  # and its MP3's
SPEECH_BLOCK_SECONDS = 5.2  # longer speech repeats this block (20 syllables: four words)
SPEECH_SEED = 11

_U8 = np.ndarray[Any, np.dtype[np.uint8]]


def render(job: RenderJob) -> bytes:
    """The output ``job`` plans, encoded."""
    if job.kind is MediaKind.VIDEO:
        return _video(job)
    if job.kind is MediaKind.IMAGE:
        return _image(job)
    return _audio(job)


def _picture_rgb(job: RenderJob) -> tuple[_U8, int, int]:
    """The picture an image or video shows, and the output's size: the input image at its own
    aspect or cut to the planned one; without an image, a generated portrait."""
    resolution = job.resolution or DEFAULT_RESOLUTION
    if job.image is not None:
        rgb = decode_image_rgb(job.image)
        if job.aspect_ratio is None:
            width, height = output_size(rgb.shape[1], rgb.shape[0], resolution)
            return rgb, width, height
        width, height = frame_size(resolution, job.aspect_ratio)
        return crop_to(rgb, width, height), width, height
    width, height = frame_size(resolution, job.aspect_ratio or DEFAULT_ASPECT)
    return generated(width, height), width, height


def generated(width: int, height: int) -> _U8:
    """A portrait at the aspect of ``width`` x ``height``, drawn small (it is scaled anyway)."""
    scale = GENERATED_SHORT_SIDE / min(width, height)
    return portrait(max(2, round(width * scale)), max(2, round(height * scale)))


def _video(job: RenderJob) -> bytes:
    rgb, width, height = _picture_rgb(job)
    if job.audio is None:
        seconds = job.seconds if job.seconds is not None else 1.0
        picture = prepare_rgb(rgb, motion(frame_count(seconds)), width, height)
        return encode_mp4(picture, None)
    sound = decode_audio(job.audio)
    if job.seconds is not None:
        sound = fit_length(sound, job.seconds)
    levels = loudness(sound, frame_count(sound.duration))
    return encode_mp4(prepare_rgb(rgb, levels, width, height), sound)


def fit_length(sound: DecodedAudio, seconds: float) -> DecodedAudio:
    """``sound`` cut, or padded with silence, to ``seconds``."""
    wanted = max(1, round(seconds * sound.rate))
    samples = sound.samples[:, :wanted]
    if samples.shape[1] < wanted:
        pad = np.zeros((samples.shape[0], wanted - samples.shape[1]), dtype=np.float32)
        samples = np.concatenate([samples, pad], axis=1)
    return DecodedAudio(np.ascontiguousarray(samples, dtype=np.float32), sound.rate, sound.layout)


def _image(job: RenderJob) -> bytes:
    rgb, width, height = _picture_rgb(job)
    return encode_image(scale_rgb(rgb, width, height), job.format)


def synthetic_speech(seconds: float, rate: int = SPEECH_RATE) -> np.ndarray[Any, Any]:
    """``seconds`` of speech-like mono audio: one block of words, repeated as long as needed
    (each block starts and ends in a pause, so the joins are silent)."""
    n = max(1, round(seconds * rate))
    block = speech(min(seconds, SPEECH_BLOCK_SECONDS), rate, seed=SPEECH_SEED)
    if len(block) >= n:
        return block[:n]
    return np.tile(block, -(-n // len(block)))[:n]


def _audio(job: RenderJob) -> bytes:
    seconds = job.seconds if job.seconds is not None else 1.0
    return encode_audio(synthetic_speech(seconds), SPEECH_RATE, job.format, SPEECH_BITRATE)
