"""The ``check`` command's defaults and the clock-speed rule, shared by the command's arguments,
the checker and the pytest plugin (a module of its own, so none of them imports another for it)."""

from __future__ import annotations

import math

DEFAULT_API_KEY = "mockgateway-check-0001"
DEFAULT_TIMEOUT = 300.0
MAX_SPEED = 1e6  # the largest ``[clock] speed`` a configuration file takes
SPEED_RULE = "must be positive and at most 1000000"


def speed_ok(value: float) -> bool:
    """Whether a clock can run at this speed (``check --speed``, the plugin's option and marker):
    finite, positive and at most :data:`MAX_SPEED`, so inf or NaN never reach the clock."""
    return math.isfinite(value) and 0 < value <= MAX_SPEED
