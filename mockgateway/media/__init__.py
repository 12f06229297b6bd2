"""Media in and out: what a job's inputs are and what its output is.

The gateway core sees media only through :class:`MediaPipeline`: a job's declared inputs
(:class:`InputRef`) and what its model outputs (:class:`OutputPlan`) go in as :class:`JobInputs`.
:class:`AvPipeline` is the real one: it fetches inputs under the input policy, validates them by
decoding, renders the output (an H.264/AAC MP4, a PNG or JPEG, a WAV or MP3) off the event loop
and caches it; :func:`media_response` serves a file with Range and ETag.
"""

import typing as _typing

from .._lazy import lazy_getattr
from ._config import (
    InputPolicy,
    InputsConfig,
    MediaConfig,
    OutputMode,
    RenderExecutor,
    read_inputs_config,
    read_media_config,
)
from ._limits import OMNIHUMAN_MAX_SECONDS, check_length
from ._plans import (
    FORMATS,
    SHORT_SIDES,
    PlanError,
    check_plan,
    content_type,
    frame_size,
    is_aspect,
    output_filename,
    output_size,
    parse_aspect,
)
from ._samples import SAMPLE_ROUTE, SAMPLES, sample_bytes, samples_dir
from ._types import (
    InputRef,
    InputRejected,
    JobInputs,
    MediaKind,
    MediaPipeline,
    OutputPlan,
    Probe,
    RenderedMedia,
)

if _typing.TYPE_CHECKING:
    from ._fetch import Fetched, Fetcher
    from ._outputs import render as render_output
    from ._pipeline import AvPipeline
    from ._probe import AudioInfo, ImageInfo, check_duration, probe_audio, probe_image
    from ._render import render_mp4
    from ._serve import media_response, parse_range, sample_response, samples_index

# The working half (aiohttp, numpy, PyAV) loads on first use: the configuration imports this
# package, and importing mockgateway (as its pytest plugin does in every run) must stay cheap.
_LAZY = {
    "Fetched": "._fetch",
    "Fetcher": "._fetch",
    "AvPipeline": "._pipeline",
    "AudioInfo": "._probe",
    "ImageInfo": "._probe",
    "check_duration": "._probe",
    "probe_audio": "._probe",
    "probe_image": "._probe",
    "render_mp4": "._render",
    "render_output": "._outputs",
    "media_response": "._serve",
    "parse_range": "._serve",
    "sample_response": "._serve",
    "samples_index": "._serve",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__all__ = [
    "FORMATS",
    "OMNIHUMAN_MAX_SECONDS",
    "SAMPLES",
    "SAMPLE_ROUTE",
    "SHORT_SIDES",
    "AudioInfo",
    "AvPipeline",
    "Fetched",
    "Fetcher",
    "ImageInfo",
    "InputPolicy",
    "InputRef",
    "InputRejected",
    "InputsConfig",
    "JobInputs",
    "MediaConfig",
    "MediaKind",
    "MediaPipeline",
    "OutputMode",
    "OutputPlan",
    "PlanError",
    "Probe",
    "RenderExecutor",
    "RenderedMedia",
    "check_duration",
    "check_length",
    "check_plan",
    "content_type",
    "frame_size",
    "is_aspect",
    "media_response",
    "output_filename",
    "output_size",
    "parse_aspect",
    "parse_range",
    "probe_audio",
    "probe_image",
    "read_inputs_config",
    "read_media_config",
    "render_mp4",
    "render_output",
    "sample_bytes",
    "sample_response",
    "samples_dir",
    "samples_index",
]
