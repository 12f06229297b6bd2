"""mockgateway: a faithful local emulator of the gateway's asynchronous generation API, with
OmniHuman v1.5 lipsync built in and any other model of the gateway declared as data
(:mod:`mockgateway.models`).

Serve it in-process with :func:`serve` (async) or :func:`serve_in_thread` (sync), configure it
with :class:`GatewayConfig` or :func:`load_config`, and reach its core through ``.gateway``.
"""

import typing as _typing

from ._lazy import lazy_getattr

if _typing.TYPE_CHECKING:
    from ._clock import Clock, ClockMode, ManualClock, RealClock, ScaledClock
    from ._config import GatewayConfig, config_from_mapping, load_config
    from ._errors import ApiError, ConfigError, ContractViolation, MockGatewayError
    from ._gateway import Gateway
    from ._jobs import Job, Status
    from ._journal import Journal, JournalEntry
    from ._server import RunningGateway, ThreadedGateway, serve, serve_in_thread

# Every name loads its module on first use, so importing the package (as the pytest plugins do in
# every test run, and the ``mockgateway`` command before it knows what to do) stays cheap.
_LAZY = {
    "ApiError": "._errors",
    "Clock": "._clock",
    "ClockMode": "._clock",
    "ConfigError": "._errors",
    "ContractViolation": "._errors",
    "Gateway": "._gateway",
    "GatewayConfig": "._config",
    "Job": "._jobs",
    "Journal": "._journal",
    "JournalEntry": "._journal",
    "ManualClock": "._clock",
    "MockGatewayError": "._errors",
    "RealClock": "._clock",
    "RunningGateway": "._server",
    "ScaledClock": "._clock",
    "Status": "._jobs",
    "ThreadedGateway": "._server",
    "config_from_mapping": "._config",
    "load_config": "._config",
    "serve": "._server",
    "serve_in_thread": "._server",
}


__getattr__ = lazy_getattr(__name__, _LAZY, globals())


__version__ = "0.1.0"

__all__ = [
    "ApiError",
    "Clock",
    "ClockMode",
    "ConfigError",
    "ContractViolation",
    "Gateway",
    "GatewayConfig",
    "Job",
    "Journal",
    "JournalEntry",
    "ManualClock",
    "MockGatewayError",
    "RealClock",
    "RunningGateway",
    "ScaledClock",
    "Status",
    "ThreadedGateway",
    "__version__",
    "config_from_mapping",
    "load_config",
    "serve",
    "serve_in_thread",
]
