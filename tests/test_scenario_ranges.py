"""Every scenario number is finite and within its range, so what loads can always be served.

A value out of range (NaN, an infinity, a lognormal whose draws overflow, a time scale that
freezes every job) stops a configuration file with a ConfigError naming the key, and makes
``PUT /_mock/scenario`` a 400 naming it. What is accepted reads back as valid JSON and serves
requests without a 500.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockgateway import load_config
from mockgateway._errors import ConfigError
from mockgateway.faults import faults_from_mapping, faults_from_toml
from mockgateway.faults._distributions import MAX_SECONDS, Distribution, Kind

from .faults_support import eventually, scenario_config
from .support import Answer, Client, memory_of, served

REPO = Path(__file__).resolve().parent.parent
OPERATOR = json.loads((REPO / "schemas" / "operator.openapi.json").read_text())


def _strict_json(raw: bytes) -> Any:
    """JSON as the standard has it: no bare NaN or Infinity."""

    def refuse(token: str) -> Any:
        raise ValueError(f"not JSON: {token}")

    return json.loads(raw, parse_constant=refuse)


async def _put(client: Client, raw: bytes, content_type: str = "application/json") -> Any:
    return await client.request(
        "PUT", "/_mock/scenario", raw=raw, headers={"Content-Type": content_type}, key=None
    )


# the failures as they were reported --------------------------------------------------------------

REFUSED_JSON = [
    (b'{"delays": {"queue": {"kind": "lognormal", "mu": 1000, "sigma": 1}}}', "delays.queue.mu"),
    (b'{"delays": {"queue": {"kind": "lognormal", "mu": 1, "sigma": 1e6}}}', "delays.queue.sigma"),
    (b'{"scenario": {"time_scale": NaN}}', "scenario.time_scale"),
    (b'{"scenario": {"time_scale": Infinity}}', "scenario.time_scale"),
    (b'{"scenario": {"time_scale": 1e7}}', "scenario.time_scale"),
    (b'{"delays": {"processing": NaN}}', "delays.processing"),
    (b'{"delays": {"processing": 1e300}}', "delays.processing"),
    (b'{"delays": {"queue": ' + b"9" * 400 + b"}}", "delays.queue"),  # too large for a float
    (b'{"delays": {"response": {"kind": "normal", "mean": 1, "stddev": Infinity}}}', "stddev"),
    (b'{"delays": {"webhook": {"kind": "uniform", "low": 0, "high": -Infinity}}}', "high"),
    (b'{"delays": {"queue": {"seconds": 1, "max": NaN}}}', "delays.queue.max"),
    (b'{"faults": [{"action": "latency", "seconds": NaN}]}', "faults[0].seconds"),
    (b'{"faults": [{"action": "latency", "seconds": 1, "probability": NaN}]}', "probability"),
    (b'{"faults": [{"action": "dribble", "seconds": Infinity}]}', "faults[0].seconds"),
    (b'{"faults": [{"action": "truncate", "fraction": NaN}]}', "faults[0].fraction"),
    (b'{"faults": [{"action": "webhook_duplicate", "copies": 1000000000}]}', "copies"),
    (b'{"rate_limits": {"generate": {"rate": Infinity}}}', "rate_limits.generate.rate"),
    (b'{"rate_limits": {"status": {"rate": 1, "burst": 1' + b"0" * 400 + b"}}}", "burst"),
]


@pytest.mark.parametrize(("raw", "key"), REFUSED_JSON, ids=[k for _, k in REFUSED_JSON])
async def test_a_scenario_number_out_of_range_is_a_400_naming_the_key(raw: bytes, key: str) -> None:
    async with served() as (_gw, client):
        before = (await client.request("GET", "/_mock/scenario", key=None)).body
        answer = await _put(client, raw)
        assert answer.status == 400, answer.raw
        assert key in answer.body["message"]
        after = await client.request("GET", "/_mock/scenario", key=None)
        assert _strict_json(after.raw) == before  # unchanged, and still JSON


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[scenario]\ntime_scale = inf\n", "scenario.time_scale"),
        ("[scenario]\ntime_scale = nan\n", "scenario.time_scale"),
        ("[delays]\nqueue = { kind = 'lognormal', mu = 1000, sigma = 1 }\n", "delays.queue.mu"),
        ("[delays]\nprocessing = -inf\n", "delays.processing"),
        ("[[faults]]\naction = 'latency'\nseconds = 1\nprobability = nan\n", "probability"),
        ("[rate_limits.media]\nrate = inf\n", "rate_limits.media.rate"),
        ("[lifecycle]\nqueue_seconds = inf\n", "lifecycle.queue_seconds"),
        ("[clock]\nspeed = nan\n", "clock.speed"),
        ("[webhooks]\nbackoff_factor = 1e300\n", "webhooks.backoff_factor"),
        ("[webhooks]\nmax_attempts = 1000000\n", "webhooks.max_attempts"),
    ],
)
def test_a_file_with_a_number_out_of_range_names_the_key_and_the_file(
    tmp_path: Path, text: str, key: str
) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert key in str(caught.value.key)
    assert caught.value.source == str(path)


async def test_a_toml_scenario_with_time_scale_inf_is_a_400() -> None:
    async with served() as (_gw, client):
        answer = await _put(client, b"[scenario]\ntime_scale = inf\n", "application/toml")
        assert answer.status == 400
        assert "scenario.time_scale" in answer.body["message"]


def test_no_draw_overflows_or_leaves_the_delay_range() -> None:
    rng = random.Random(0)
    wild = [
        Distribution(kind=Kind.LOGNORMAL, mu=1000.0, sigma=1.0),  # the reader refuses these;
        Distribution(kind=Kind.NORMAL, mean=1e300, stddev=1e300),  # a draw still stays bounded
        Distribution(kind=Kind.FIXED, seconds=math.nan),
        Distribution(kind=Kind.UNIFORM, low=0.0, high=math.inf),
        Distribution(kind=Kind.FIXED, seconds=5.0, maximum=1e12),
    ]
    for dist in wild:
        for _ in range(20):
            value = dist.sample(rng)
            assert 0.0 <= value <= MAX_SECONDS, (dist, value)


def test_the_scenario_schema_states_the_ranges() -> None:
    schemas = OPERATOR["components"]["schemas"]
    scenario = schemas["ScenarioSections"]["properties"]["scenario"]["properties"]
    assert scenario["time_scale"]["maximum"] == 1_000_000
    dist = schemas["Distribution"]["properties"]
    assert (dist["mu"]["minimum"], dist["mu"]["maximum"], dist["sigma"]["maximum"]) == (
        -100,
        13.8,
        10,
    )
    assert schemas["Duration"]["anyOf"][0]["maximum"] == MAX_SECONDS


# properties: accepted means servable, refused means named ---------------------------------------

ANY_NUMBER = st.one_of(
    st.floats(),  # with NaN and the infinities
    st.integers(min_value=-(10**20), max_value=10**20),
    st.sampled_from([0, 1, 0.5, 1e-9, 13.8, 13.81, 100, 1e6, 1e6 + 1, -1e-9, 10**400]),
)


@dataclass(frozen=True)
class Slot:
    """A numeric setting and its documented range (integers only when ``whole``)."""

    low: float
    high: float
    whole: bool = False
    above_low: bool = False  # the low end itself is excluded

    def admits(self, value: Any) -> bool:
        if self.whole and not isinstance(value, int):
            return False
        try:
            number = float(value)
        except OverflowError:
            return False
        if not math.isfinite(number):
            return False
        return (number > self.low if self.above_low else number >= self.low) and number <= (
            self.high
        )


SECONDS = Slot(0, 1e6)
SLOTS: dict[str, Slot] = {
    "seconds": SECONDS,
    "low": SECONDS,
    "high": SECONDS,
    "mean": SECONDS,
    "stddev": SECONDS,
    "max": SECONDS,
    "mu": Slot(-100, 13.8),
    "sigma": Slot(0, 10),
    "time_scale": Slot(0, 1e6),
    "retry_after": Slot(1, 86_400, whole=True),
    "probability": Slot(0, 1),
    "chunks": Slot(1, 1e6, whole=True),
    "copies": Slot(2, 100, whole=True),
    "rate": Slot(1e-9, 1e6),
    "burst": Slot(1, 1e6, whole=True),
    "queue_polls": Slot(0, 1e6, whole=True),
}
PARAMS = {
    "fixed": ("seconds",),
    "uniform": ("low", "high"),
    "normal": ("mean", "stddev"),
    "lognormal": ("mu", "sigma"),
}


@st.composite
def durations(draw: st.DrawFn, path: str) -> tuple[Any, set[str]]:
    """A duration at ``path`` and the keys in it that are out of range."""
    if draw(st.booleans()):
        value = draw(ANY_NUMBER)
        return value, set() if SECONDS.admits(value) else {path}
    kind = draw(st.sampled_from(sorted(PARAMS)))
    table: dict[str, Any] = {"kind": kind}
    names = PARAMS[kind] + (("max",) if draw(st.booleans()) else ())
    for name in names:
        table[name] = draw(st.one_of(ANY_NUMBER, st.floats(0, 20)))
    bad = {f"{path}.{n}" for n in names if not SLOTS[n].admits(table[n])}
    if kind == "uniform" and not bad and table["high"] < table["low"]:
        bad.add(f"{path}.high")
    return table, bad


def _number(draw: st.DrawFn, path: str, slot: str, bad: set[str]) -> Any:
    value = draw(st.one_of(ANY_NUMBER, st.integers(0, 5), st.floats(0, 1)))
    if not SLOTS[slot].admits(value):
        bad.add(path)
    return value


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    """A scenario body with numbers anywhere, and the set of keys holding a number out of range
    (empty: the gateway must accept it)."""
    bad: set[str] = set()
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["scenario"] = {"time_scale": _number(draw, "scenario.time_scale", "time_scale", bad)}
        if draw(st.booleans()):
            value = _number(draw, "scenario.retry_after", "retry_after", bad)
            body["scenario"]["retry_after"] = value
    delays: dict[str, Any] = {}
    for phase in draw(st.sets(st.sampled_from(["queue", "processing", "webhook", "response"]))):
        delays[phase], found = draw(durations(f"delays.{phase}"))
        bad |= found
    if draw(st.booleans()):
        delays["polls"] = {"queue": _number(draw, "delays.polls.queue", "queue_polls", bad)}
    if delays:
        body["delays"] = delays
    faults: list[dict[str, Any]] = []
    for action in draw(st.lists(st.sampled_from(["latency", "dribble", "copies"]), max_size=3)):
        at = f"faults[{len(faults)}]"
        if action == "latency":
            seconds, found = draw(durations(f"{at}.seconds"))
            bad |= found
            rule = {"action": "latency", "route": "status", "seconds": seconds}
        elif action == "dribble":
            rule = {
                "action": "dribble",
                "route": "status",
                "seconds": _number(draw, f"{at}.seconds", "seconds", bad),
                "chunks": _number(draw, f"{at}.chunks", "chunks", bad),
            }
        else:
            copies = _number(draw, f"{at}.copies", "copies", bad)
            rule = {"action": "webhook_duplicate", "copies": copies}
        if draw(st.booleans()):
            rule["probability"] = _number(draw, f"{at}.probability", "probability", bad)
        faults.append(rule)
    if faults:
        body["faults"] = faults
    if draw(st.booleans()):
        bucket = {
            "rate": _number(draw, "rate_limits.status.rate", "rate", bad),
            "burst": _number(draw, "rate_limits.status.burst", "burst", bad),
        }
        body["rate_limits"] = {"status": bucket}
    return body, bad


@settings(max_examples=400, deadline=None)
@given(scenarios())
def test_a_scenario_loads_exactly_when_its_numbers_are_in_range(
    case: tuple[dict[str, Any], set[str]],
) -> None:
    body, bad = case
    if not bad:
        faults_from_mapping(body, "test")
        return
    with pytest.raises(ConfigError) as caught:
        faults_from_mapping(body, "test")
    assert caught.value.key in bad, (caught.value, bad)


def test_toml_reads_the_same_ranges() -> None:
    with pytest.raises(ConfigError, match=r"delays\.queue\.sigma"):
        faults_from_toml("[delays]\nqueue = { kind = 'lognormal', mu = 1, sigma = 11 }\n", "t")
    assert faults_from_toml("[scenario]\ntime_scale = 1e6\n", "t").scenario.time_scale == 1e6


async def _served(gw: Any, request: Coroutine[Any, Any, Answer]) -> Answer:
    """One request's answer, moving the manual clock while the gateway holds it (latency,
    dribbled pieces), a bounded number of times."""
    pending = asyncio.ensure_future(request)
    for _ in range(10_000):  # a dribble of a few hundred pieces takes a move each
        await eventually(lambda: pending.done() or gw.gateway.waiting > 0)
        if pending.done():
            return pending.result()
        await gw.gateway.advance(2 * MAX_SECONDS)
    pending.cancel()
    raise AssertionError("the request was held for more than 10,000 moves of the clock")


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_an_accepted_scenario_reads_back_as_json_and_serves_without_a_500(
    case: tuple[dict[str, Any], set[str]],
) -> None:
    body, bad = case
    print(json.dumps(body))  # shown when it fails

    async def run() -> None:
        # Its polls move the clock weeks on: retention must keep the job that long.
        config = scenario_config(retention={"max_age_seconds": 1e9})
        async with served(config) as (gw, client):
            answer = await _put(client, json.dumps(body).encode())
            if bad:
                assert answer.status == 400, answer.raw
                message = answer.body["message"]
                # named by the scenario reader ("key 'x'") or, for a number JSON cannot carry,
                # by the body reader ("request body: x is ...")
                assert any(f"key '{key}'" in message or f": {key} is" in message for key in bad), (
                    answer.raw
                )
                return
            assert answer.status == 200, answer.raw
            view = _strict_json((await client.request("GET", "/_mock/scenario", key=None)).raw)
            assert math.isfinite(view["time_scale"])
            accepted = await _served(gw, client.generate())
            assert accepted.status == 202, accepted.raw
            rid = accepted.body["request_id"]
            for _ in range(3):
                status = await _served(gw, client.status(rid))
                assert status.status in (200, 429), status.raw
                await gw.gateway.advance(2 * MAX_SECONDS)
            if "polls" not in body.get("delays", {}):
                assert memory_of(gw.gateway).jobs[rid].status.terminal

    asyncio.run(run())
