"""Media in and out: what a job's inputs are and what its output is.

The gateway core sees media only through :class:`MediaPipeline`; :mod:`mockgateway.media`
holds the implementations.
"""

from ._types import InputRejected, JobInputs, MediaPipeline, Probe, RenderedMedia

__all__ = ["InputRejected", "JobInputs", "MediaPipeline", "Probe", "RenderedMedia"]
