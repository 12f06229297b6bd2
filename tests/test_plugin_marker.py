"""Marker arguments and plugin options, merged and validated without starting a gateway."""

from __future__ import annotations

from typing import Any

import pytest

from mockgateway import ClockMode
from mockgateway.checker import Severity
from mockgateway.checker._marker import PluginOptions, PluginUsageError, read_marker
from mockgateway.checker._run import DEFAULT_API_KEY, load_setup

BASE = load_setup(None)


def wish(options: PluginOptions | None = None, **kwargs: Any) -> Any:
    return read_marker(kwargs, options or PluginOptions(), BASE)


def test_no_marker_shares_the_session_gateway_with_its_options() -> None:
    w = wish(PluginOptions(api_key="k-0001", check="warning"))
    assert w.own_config is None
    assert w.api_key == "k-0001"
    assert w.check == "warning"
    assert w.scenario is None


def test_scenario_names_map_to_scenario_keys() -> None:
    assert wish(scenario="429").api_key == "mock-429"
    assert wish(scenario="mock-failed").api_key == "mock-failed"
    assert wish(scenario="429", api_key="mine").api_key == "mine"


@pytest.mark.parametrize(
    ("check", "expected"), [(True, "error"), (False, "off"), ("warning", "warning")]
)
def test_check_argument(check: object, expected: str) -> None:
    assert wish(check=check).check == expected


def test_own_config_clock_and_speed_get_a_dedicated_gateway() -> None:
    fast = wish(speed=20)
    assert fast.own_config is not None
    assert fast.own_config.clock.mode is ClockMode.SCALED
    assert fast.own_config.clock.speed == 20
    manual = wish(clock="manual")
    assert manual.own_config is not None
    assert manual.own_config.clock.mode is ClockMode.MANUAL
    mapped = wish(PluginOptions(speed=30), config={"lifecycle": {"queue_seconds": 0}})
    assert mapped.own_config is not None
    assert mapped.own_config.lifecycle.queue_seconds == 0
    assert mapped.own_config.clock.speed == 30  # the session's speed carries over


def test_a_marker_model_wins_over_the_option() -> None:
    assert wish().model is None  # the first model served
    assert wish(PluginOptions(model="acme-a")).model == "acme-a"
    assert wish(PluginOptions(model="acme-a"), model="acme-b").model == "acme-b"
    assert wish(model="acme-b").own_config is None  # a model needs no gateway of its own


def test_rules_can_be_tuned_per_test() -> None:
    w = wish(
        disable="download-output",
        severity={"duplicate-submission": "error"},
        config={"checker": {"min_poll_interval": 10}},
    )
    assert w.settings.disabled == frozenset({"download-output"})
    assert w.settings.severities == {"duplicate-submission": Severity.ERROR}
    assert w.settings.min_poll_interval == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scenery": "429"}, "unknown argument(s) scenery"),
        ({"check": "sometimes"}, "check must be True, False or one of"),
        ({"speed": 0}, "speed must be positive"),
        ({"speed": True}, "speed must be positive"),
        ({"speed": float("inf")}, "speed must be positive and at most 1000000"),
        ({"speed": float("nan")}, "speed must be positive and at most 1000000"),
        ({"clock": "sundial"}, "clock must be real, scaled or manual"),
        ({"config": 42}, "config must be a file path or a mapping"),
        ({"model": 5}, "model must be a model id, got 5"),
        ({"model": ""}, "model must be a model id, got ''"),
    ],
)
def test_bad_marker_arguments_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(PluginUsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        wish(**kwargs)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"speed": "fast"}, "speed must be a number"),
        ({"speed": "-2"}, "speed must be positive"),
        ({"speed": "inf"}, "speed must be positive and at most 1000000, got 'inf'"),
        ({"speed": "nan"}, "speed must be positive and at most 1000000, got 'nan'"),
        ({"speed": "1e300"}, "speed must be positive and at most 1000000"),
        ({"check": "maybe"}, "check must be one of error, warning, off"),
    ],
)
def test_bad_options_are_named(raw: dict[str, str], message: str) -> None:
    values: dict[str, str | None] = {"config": None, "speed": None, "check": None, "api_key": None}
    values.update(raw)
    with pytest.raises(PluginUsageError, match=message):
        PluginOptions.parse(**values)


def test_options_default_sensibly() -> None:
    options = PluginOptions.parse(config=None, speed="", check=None, api_key=None)
    assert options == PluginOptions(speed=1.0, check="error", api_key=DEFAULT_API_KEY)
