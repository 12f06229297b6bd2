"""Failure simulation: scenarios, delays, fault rules, rate limits and scenario keys.

Pure (no aiohttp): :class:`FaultEngine` turns a :class:`FaultsConfig` into decisions the gateway
and its HTTP edge act on. The scenario sections of the configuration file are read by
:func:`read_faults`; a scenario alone (JSON or TOML) by :func:`faults_from_mapping` and
:func:`faults_from_toml`.
"""

from ._builtin import HEADER, KEY_PREFIX, BuiltinScenario, builtin_scenarios
from ._config import (
    DelaysConfig,
    FaultsConfig,
    PhaseDelays,
    RateLimitsConfig,
    ScenarioConfig,
    faults_from_mapping,
    faults_from_toml,
    read_faults,
)
from ._counters import Counters, LocalCounters, StoreCounters
from ._distributions import Distribution, Kind
from ._engine import FaultEngine, JobPlan, RequestDecision, WebhookPlan
from ._ratelimit import BucketConfig, RateLimiter, TokenBucket, retry_after_seconds
from ._rules import (
    Break,
    BreakKind,
    Context,
    EndJob,
    FaultRule,
    HttpError,
    Latency,
    Route,
    WebhookFault,
    WebhookKind,
    action_name,
)

__all__ = [
    "HEADER",
    "KEY_PREFIX",
    "Break",
    "BreakKind",
    "BucketConfig",
    "BuiltinScenario",
    "Context",
    "Counters",
    "DelaysConfig",
    "Distribution",
    "EndJob",
    "FaultEngine",
    "FaultRule",
    "FaultsConfig",
    "HttpError",
    "JobPlan",
    "Kind",
    "Latency",
    "LocalCounters",
    "PhaseDelays",
    "RateLimiter",
    "RateLimitsConfig",
    "RequestDecision",
    "Route",
    "ScenarioConfig",
    "StoreCounters",
    "TokenBucket",
    "WebhookFault",
    "WebhookKind",
    "WebhookPlan",
    "action_name",
    "builtin_scenarios",
    "faults_from_mapping",
    "faults_from_toml",
    "read_faults",
    "retry_after_seconds",
]
