"""Per-session options and per-test markers of the pytest plugin, validated and merged.

``--mockgateway-*`` options (or their ini twins) give session defaults; a test's
``@pytest.mark.mockgateway(...)`` overrides them. A marker asking for its own configuration or
clock gets a dedicated gateway; otherwise the test shares the session's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._check_defaults import DEFAULT_API_KEY, SPEED_RULE, speed_ok
from .._clock import ClockMode
from .._config import ClockConfig, GatewayConfig, config_from_mapping
from ._engine import RULE_IDS
from ._run import CheckSetup, load_setup
from ._settings import CheckerSettings, settings_from_mapping

CHECK_LEVELS = ("error", "warning", "off")
MARKER_KEYS = frozenset(
    {"scenario", "api_key", "check", "config", "speed", "clock", "disable", "severity", "model"}
)


class PluginUsageError(ValueError):
    """A bad option (reported as a pytest usage error) or marker argument (a setup error)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginOptions:
    """The ``--mockgateway-*`` options (or their ini twins), resolved once per session."""

    config: str | None = None
    speed: float = 1.0
    check: str = "error"
    api_key: str = DEFAULT_API_KEY
    tls: bool = False  # serve HTTPS from a local CA
    model: str | None = None  # the model id generate_url aims at (None: the first served)

    @classmethod
    def parse(
        cls,
        *,
        config: str | None,
        speed: str | None,
        check: str | None,
        api_key: str | None,
        tls: bool = False,
        model: str | None = None,
    ) -> PluginOptions:
        try:
            rate = float(speed) if speed not in (None, "") else 1.0
        except ValueError:
            raise PluginUsageError(f"mockgateway speed must be a number, got {speed!r}") from None
        if not speed_ok(rate):
            raise PluginUsageError(f"mockgateway speed {SPEED_RULE}, got {speed!r}")
        level = check or "error"
        if level not in CHECK_LEVELS:
            raise PluginUsageError(
                f"mockgateway check must be one of {', '.join(CHECK_LEVELS)}, got {level!r}"
            )
        return cls(
            config=config or None,
            speed=rate,
            check=level,
            api_key=api_key or DEFAULT_API_KEY,
            tls=tls,
            model=model or None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MarkerWish:
    """What one test's ``@pytest.mark.mockgateway(...)`` asks for, merged over the options."""

    api_key: str
    scenario: str | None
    check: str
    settings: CheckerSettings
    own_config: GatewayConfig | None
    model: str | None = None  # the model id the test aims at (None: the first served)


def scenario_key(name: str) -> str:
    """``scenario="429"`` or ``"mock-429"``: the scenario key that reaches it."""
    return name if name.startswith("mock-") else f"mock-{name}"


def config_with_clock(
    config: GatewayConfig, speed: float | None, clock: str | None
) -> GatewayConfig:
    if clock is not None:
        try:
            mode = ClockMode(clock)
        except ValueError:
            raise PluginUsageError(
                f"mockgateway marker: clock must be real, scaled or manual, got {clock!r}"
            ) from None
        rate = speed if speed is not None else config.clock.speed
        return config.with_(clock=ClockConfig(mode=mode, speed=rate))
    if speed is not None and speed != config.clock.speed:
        return config.with_(clock=ClockConfig(mode=ClockMode.SCALED, speed=speed))
    return config


def _marker_config(config: Any, base: CheckSetup) -> tuple[CheckerSettings, GatewayConfig | None]:
    """A marker's own gateway configuration: a TOML path, or a mapping shaped like one."""
    if config is None:
        return base.checker, None
    if isinstance(config, (str, Path)):
        loaded = load_setup(config)
        return loaded.checker, loaded.gateway
    if isinstance(config, Mapping):
        data = dict(config)
        table = data.pop("checker", {})
        settings = settings_from_mapping(table, source="mockgateway marker", known_rules=RULE_IDS)
        return settings, config_from_mapping(data, "mockgateway marker")
    raise PluginUsageError("mockgateway marker: config must be a file path or a mapping")


def read_marker(kwargs: Mapping[str, Any], options: PluginOptions, base: CheckSetup) -> MarkerWish:
    """Validate a marker's keyword arguments and merge them over the session's options."""
    unknown = sorted(set(kwargs) - MARKER_KEYS)
    if unknown:
        raise PluginUsageError(
            f"mockgateway marker: unknown argument(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(MARKER_KEYS))}"
        )
    check_arg = kwargs.get("check", True)
    if check_arg is True:
        level = options.check
    elif check_arg is False:
        level = "off"
    elif check_arg in CHECK_LEVELS:
        level = str(check_arg)
    else:
        raise PluginUsageError(
            f"mockgateway marker: check must be True, False or one of {CHECK_LEVELS}, "
            f"got {check_arg!r}"
        )
    settings, own = _marker_config(kwargs.get("config"), base)
    disable = kwargs.get("disable", ())
    if isinstance(disable, str):
        disable = (disable,)
    severity = kwargs.get("severity", {})
    if disable or severity:
        table: dict[str, Any] = {"disable": list(disable), "severity": dict(severity)}
        extra = settings_from_mapping(table, source="mockgateway marker", known_rules=RULE_IDS)
        settings = settings.with_(
            disabled=settings.disabled | extra.disabled,
            severities={**settings.severities, **extra.severities},
        )
    speed = kwargs.get("speed")
    if speed is not None and (
        isinstance(speed, bool) or not isinstance(speed, (int, float)) or not speed_ok(speed)
    ):
        raise PluginUsageError(f"mockgateway marker: speed {SPEED_RULE}, got {speed!r}")
    clock = kwargs.get("clock")
    if own is not None:
        session_speed = options.speed if options.speed != 1.0 else None
        own = config_with_clock(own, speed if speed is not None else session_speed, clock)
    elif speed is not None or clock is not None:
        own = config_with_clock(base.gateway, speed, clock)
    scenario = kwargs.get("scenario")
    api_key = kwargs.get("api_key") or (scenario_key(scenario) if scenario else options.api_key)
    model = kwargs.get("model", options.model)
    if model is not None and (not isinstance(model, str) or not model):
        raise PluginUsageError(f"mockgateway marker: model must be a model id, got {model!r}")
    return MarkerWish(
        api_key=str(api_key),
        scenario=scenario,
        check=level,
        settings=settings,
        own_config=own,
        model=model,
    )
