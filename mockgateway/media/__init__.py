"""Media in and out: what a job's inputs are and what its output is.

The gateway core sees media only through :class:`MediaPipeline`. :class:`AvPipeline` is the real
one: it fetches inputs under the input policy, validates them by decoding, renders an H.264/AAC
MP4 off the event loop and caches it; :func:`media_response` serves a file with Range and ETag.
"""

from ._config import (
    InputPolicy,
    InputsConfig,
    MediaConfig,
    OutputMode,
    RenderExecutor,
    read_inputs_config,
    read_media_config,
)
from ._fetch import Fetched, Fetcher, is_loopback
from ._picture import output_size
from ._pipeline import AvPipeline
from ._probe import AudioInfo, ImageInfo, check_duration, probe_audio, probe_image
from ._render import render_mp4
from ._samples import SAMPLE_ROUTE, SAMPLES, sample_bytes, samples_dir
from ._serve import media_response, parse_range, sample_response, samples_index
from ._types import InputRejected, JobInputs, MediaPipeline, Probe, RenderedMedia

__all__ = [
    "SAMPLES",
    "SAMPLE_ROUTE",
    "AudioInfo",
    "AvPipeline",
    "Fetched",
    "Fetcher",
    "ImageInfo",
    "InputPolicy",
    "InputRejected",
    "InputsConfig",
    "JobInputs",
    "MediaConfig",
    "MediaPipeline",
    "OutputMode",
    "Probe",
    "RenderExecutor",
    "RenderedMedia",
    "check_duration",
    "is_loopback",
    "media_response",
    "output_size",
    "parse_range",
    "probe_audio",
    "probe_image",
    "read_inputs_config",
    "read_media_config",
    "render_mp4",
    "sample_bytes",
    "sample_response",
    "samples_dir",
    "samples_index",
]
