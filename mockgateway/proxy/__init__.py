"""The checking proxy: a client against the real gateway, judged, recorded and kept in budget.

:class:`Proxy` forwards the documented requests to an upstream gateway and checks every answer
(:mod:`._drift`, pure rules; :mod:`._drift_log` keeps each drift once); :class:`SpendGuard`
decides whether a generate may go upstream; :func:`fit_scenario` turns recordings into a
scenario file the gateway serves (``mockgateway calibrate``).
"""

from ._calibrate import Fit, fit_scenario, load_recordings
from ._drift import Drift, DriftKind, answer_drifts, transition_drift, webhook_drifts
from ._drift_log import DriftLog, Known, Level, load_known
from ._proxy import Proxy, ProxySettings
from ._serve import RunningProxy, proxy_in_thread, serve_proxy
from ._spend import SpendGuard

__all__ = [
    "Drift",
    "DriftKind",
    "DriftLog",
    "Fit",
    "Known",
    "Level",
    "Proxy",
    "ProxySettings",
    "RunningProxy",
    "SpendGuard",
    "answer_drifts",
    "fit_scenario",
    "load_known",
    "load_recordings",
    "proxy_in_thread",
    "serve_proxy",
    "transition_drift",
    "webhook_drifts",
]
