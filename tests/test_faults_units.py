"""The pure failure-simulation core: distributions, buckets, rule matching, the engine.

No server and no real time: the gateway time is a number passed in.
"""

from __future__ import annotations

import copy
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mockgateway._errors import wire_error
from mockgateway.faults import (
    Break,
    BreakKind,
    BucketConfig,
    Context,
    Distribution,
    EndJob,
    FaultEngine,
    FaultRule,
    HttpError,
    Kind,
    Latency,
    RateLimiter,
    Route,
    StoreCounters,
    TokenBucket,
    WebhookFault,
    WebhookKind,
    builtin_scenarios,
    faults_from_mapping,
    retry_after_seconds,
)
from mockgateway.faults._rules import matches
from mockgateway.store import MemoryStore


def draws(dist: Distribution, seed: int = 1, n: int = 200) -> list[float]:
    rng = random.Random(seed)
    return [dist.sample(rng) for _ in range(n)]


def test_fixed_distribution_is_constant_and_uses_no_randomness() -> None:
    rng = random.Random(3)
    state = rng.getstate()
    assert Distribution.fixed(2.5).sample(rng) == 2.5
    assert rng.getstate() == state


def test_uniform_stays_within_bounds_and_spreads() -> None:
    values = draws(Distribution(kind=Kind.UNIFORM, low=1.0, high=3.0))
    assert all(1.0 <= v <= 3.0 for v in values)
    assert min(values) < 1.3
    assert max(values) > 2.7


def test_normal_is_clamped_at_zero_and_at_its_maximum() -> None:
    values = draws(Distribution(kind=Kind.NORMAL, mean=1.0, stddev=2.0, maximum=3.0))
    assert all(0.0 <= v <= 3.0 for v in values)
    assert values.count(0.0) > 10  # many negative draws became 0
    assert values.count(3.0) > 5


def test_lognormal_is_positive_with_the_expected_median() -> None:
    values = sorted(draws(Distribution(kind=Kind.LOGNORMAL, mu=0.0, sigma=0.5), n=1001))
    assert values[0] > 0
    assert values[500] == pytest.approx(1.0, rel=0.15)


def test_same_seed_same_draws() -> None:
    dist = Distribution(kind=Kind.NORMAL, mean=5.0, stddev=1.0)
    assert draws(dist, seed=7) == draws(dist, seed=7)
    assert draws(dist, seed=7) != draws(dist, seed=8)


@pytest.mark.parametrize(("wait", "seconds"), [(0.0, 1), (0.2, 1), (1.0, 1), (2.0, 2), (2.01, 3)])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, seconds: int) -> None:
    assert retry_after_seconds(wait) == seconds


def test_token_bucket_burst_then_refill_on_gateway_time() -> None:
    bucket = TokenBucket(BucketConfig(rate=0.5, burst=2), now=100.0)
    assert bucket.take(100.0) is None
    assert bucket.take(100.0) is None
    assert bucket.take(100.0) == 2  # one token every 2 s
    assert bucket.take(101.0) == 1  # half refilled
    assert bucket.take(102.0) is None
    assert bucket.take(102.0) == 2


def test_rate_limiter_keeps_a_bucket_per_key_and_route() -> None:
    limiter = RateLimiter({"generate": BucketConfig(rate=1.0, burst=1)})
    assert limiter.take("a", "generate", 0.0) is None
    assert limiter.take("a", "generate", 0.0) == 1
    assert limiter.take("b", "generate", 0.0) is None
    assert limiter.take("a", "status", 0.0) is None  # no limit on status


def test_request_rules_never_match_webhooks_by_default_and_vice_versa() -> None:
    request_rule = FaultRule(name="r", action=HttpError(status=500))
    webhook_rule = FaultRule(name="w", action=WebhookFault(kind=WebhookKind.DROP))
    for route in (Route.GENERATE, Route.STATUS, Route.MEDIA):
        assert matches(request_rule, Context(route=route))
        assert not matches(webhook_rule, Context(route=route))
    assert not matches(request_rule, Context(route=Route.WEBHOOK))
    assert matches(webhook_rule, Context(route=Route.WEBHOOK))


def test_match_fields_narrow_a_rule() -> None:
    rule = FaultRule(
        name="r",
        action=HttpError(status=500),
        routes=frozenset({Route.STATUS}),
        keys=frozenset({"k1"}),
        models=frozenset({"m"}),
        phases=frozenset({"PROCESSING"}),
    )
    hit = Context(route=Route.STATUS, key="k1", model="m", phase="PROCESSING")
    assert matches(rule, hit)
    for miss in (
        Context(route=Route.GENERATE, key="k1", model="m", phase="PROCESSING"),
        Context(route=Route.STATUS, key="k2", model="m", phase="PROCESSING"),
        Context(route=Route.STATUS, key="k1", model="x", phase="PROCESSING"),
        Context(route=Route.STATUS, key="k1", model="m", phase="QUEUED"),
    ):
        assert not matches(rule, miss)


def test_scenario_rules_apply_only_when_selected() -> None:
    rule = FaultRule(name="s", action=HttpError(status=500), scenario="x")
    assert not matches(rule, Context(route=Route.STATUS))
    assert matches(rule, Context(route=Route.STATUS, scenario="x"))


def engine(*rules: dict[str, object], **sections: object) -> FaultEngine:
    return FaultEngine(faults_from_mapping({"faults": list(rules), **sections}, "unit"))


async def test_nth_counts_matching_exchanges_per_rule() -> None:
    e = engine({"route": "status", "action": "http_error", "status": 503, "nth": [2, 3]})
    status = Context(route=Route.STATUS)
    generate = Context(route=Route.GENERATE)
    results = []
    for _ in range(4):
        await e.on_request(generate)  # does not match: does not count
        results.append((await e.on_request(status)).error is not None)
    assert results == [False, True, True, False]
    await e.reset()
    assert (await e.on_request(status)).error is None
    assert (await e.on_request(status)).error is not None


async def test_first_error_or_break_wins_and_latencies_add_up() -> None:
    e = engine(
        {"action": "latency", "seconds": 1},
        {"action": "reset"},
        {"action": "http_error", "status": 500},
        {"action": "latency", "seconds": 2},
        scenario={"time_scale": 2.0},
    )
    decision = await e.on_request(Context(route=Route.STATUS))
    assert decision.latency == 6.0  # (1 + 2) * time scale 2
    assert decision.brk == Break(kind=BreakKind.RESET)
    assert decision.error is None
    assert decision.fired == ("faults[0]", "faults[1]", "faults[3]")


async def test_probability_is_seeded_and_streams_are_independent() -> None:
    rule = {
        "name": "coin",
        "route": "status",
        "action": "http_error",
        "status": 500,
        "probability": 0.5,
    }

    async def pattern(e: FaultEngine) -> list[bool]:
        return [
            (await e.on_request(Context(route=Route.STATUS))).error is not None for _ in range(64)
        ]

    base = await pattern(engine(rule, scenario={"seed": 11}))
    assert base == await pattern(engine(rule, scenario={"seed": 11}))
    assert base != await pattern(engine(rule, scenario={"seed": 12}))
    assert 16 < sum(base) < 48
    # another rule drawing before it (on its own stream) does not shift a named rule's draws
    noisy = {
        "route": "status",
        "action": "latency",
        "seconds": {"kind": "uniform", "low": 0, "high": 1},
    }
    other = engine(noisy, rule, scenario={"seed": 11})
    assert await pattern(other) == base


async def test_job_plan_draws_phase_delays_per_model_and_picks_the_end() -> None:
    e = engine(
        {"action": "error", "at": "queued", "model": "m2", "message": "boom"},
        delays={
            "queue": 3,
            "processing": {"kind": "uniform", "low": 1, "high": 2},
            "models": {"m2": {"queue": 9}},
        },
    )
    plan = await e.plan_job("k", "m1", None)
    assert plan.queue_seconds == 3.0
    assert plan.processing_seconds is not None
    assert 1.0 <= plan.processing_seconds <= 2.0
    assert plan.end is None
    other = await e.plan_job("k", "m2", None)
    assert other.queue_seconds == 9.0
    assert other.end == EndJob(status="ERROR", at="QUEUED", message="boom")


async def test_lifecycle_durations_are_the_default_and_are_scaled() -> None:
    e = FaultEngine(
        faults_from_mapping({"scenario": {"time_scale": 0.1}}, "unit"),
        queue_seconds=5.0,
        processing_seconds=20.0,
    )
    plan = await e.plan_job("k", "m", None)
    assert plan.queue_seconds == pytest.approx(0.5)
    assert plan.processing_seconds == pytest.approx(2.0)


async def test_poll_driven_phases_have_no_duration() -> None:
    plan = await engine(delays={"polls": {"queue": 2}}).plan_job("k", "m", None)
    assert plan.queue_seconds is None
    assert plan.processing_seconds == 2.0


async def test_webhook_plan_combines_rules() -> None:
    e = engine(
        {"action": "webhook_delay", "seconds": 4},
        {"action": "webhook_duplicate", "copies": 3},
        {"action": "webhook_drop", "phase": "processing"},
        delays={"webhook": 1},
    )
    done = await e.plan_webhook("k", "m", "COMPLETED", None)
    assert (done.drop, done.delay, done.copies, done.reorder) == (False, 5.0, 3, False)
    assert (await e.plan_webhook("k", "m", "PROCESSING", None)).drop


def test_scenario_selection_by_key_and_header() -> None:
    e = FaultEngine()
    assert e.scenario_of("mock-500", None) == "500"
    assert e.scenario_of("mock-unknown", None) is None  # just a key like any other
    assert e.scenario_of("anything", "failed") == "failed"
    assert e.scenario_of("mock-500", "mock-402") == "402"  # the header wins
    with pytest.raises(Exception, match="unknown scenario"):
        e.scenario_of(None, "nope")


def test_builtin_scenarios_cover_the_documented_keys() -> None:
    table = builtin_scenarios(retry_after=4)
    for name in ("401", "402", "403", "429", "500", "failed", "error"):
        assert name in table
        assert all(rule.scenario == name for rule in table[name].rules)
    action = table["429"].rules[0].action
    assert isinstance(action, HttpError)
    assert action.api_error().headers == {"Retry-After": "4"}
    assert isinstance(table["slow"].rules[0].action, Latency)


def test_concurrency_limit_answers_the_429_with_its_wait() -> None:
    e = engine(rate_limits={"concurrent_jobs": 2, "concurrent_retry_after": 9})
    assert e.concurrency_limit(1) is None
    limited = e.concurrency_limit(2)
    assert limited is not None
    assert limited.retry_after == 9
    answer = wire_error(limited)  # the edge's table: the API-management 429 with its wait
    assert answer.status == 429
    assert answer.headers == {"Retry-After": "9"}


def test_the_faults_facade_exports_what_it_lists() -> None:
    import mockgateway.faults as facade

    for name in facade.__all__:
        assert hasattr(facade, name), name
    public = {n for n in vars(facade) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(facade.__all__)


@given(
    rate=st.floats(min_value=0.01, max_value=50),
    burst=st.integers(min_value=1, max_value=8),
    gaps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=30),
)
def test_retry_after_is_exactly_the_whole_seconds_to_wait(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket = TokenBucket(BucketConfig(rate=rate, burst=burst), now=0.0)
    now = 0.0
    for gap in gaps:
        now += gap
        wait = bucket.take(now)
        if wait is None:
            continue
        assert wait >= 1
        if wait > 1:  # one second less would not have been enough
            assert copy.deepcopy(bucket).take(now + wait - 1) is not None
        assert copy.deepcopy(bucket).take(now + wait) is None  # waiting N seconds is enough


@given(
    kind=st.sampled_from(list(Kind)),
    a=st.floats(min_value=-10, max_value=10),
    b=st.floats(min_value=0, max_value=10),
    maximum=st.none() | st.floats(min_value=0, max_value=20),
    seed=st.integers(),
)
def test_every_draw_is_within_zero_and_the_maximum(
    kind: Kind, a: float, b: float, maximum: float | None, seed: int
) -> None:
    dist = Distribution(
        kind=kind,
        seconds=a,
        low=min(a, b),
        high=max(a, b),
        mean=a,
        stddev=b,
        mu=a / 5,
        sigma=b / 5,
        maximum=maximum,
    )
    for value in draws(dist, seed=seed, n=20):
        assert value >= 0.0
        assert maximum is None or value <= maximum


async def test_counts_kept_in_a_shared_store_add_up_over_engines() -> None:
    """Two replicas' engines on one store: an ``nth`` rule counts both replicas' requests, and a
    seeded stream continues one sequence rather than each replica starting it again."""
    store = MemoryStore()
    rule = {"route": "status", "action": "http_error", "status": 503, "nth": [2, 4]}
    config = faults_from_mapping({"faults": [rule]}, "unit")
    one, two = (FaultEngine(config, counters=StoreCounters(store)) for _ in range(2))
    status = Context(route=Route.STATUS)
    fired = [(await e.on_request(status)).error is not None for e in (one, two, one, two, one)]
    assert fired == [False, True, False, True, False]
    alone = engine(rule)
    assert [(await alone.on_request(status)).error is not None for _ in range(2)] == [False, True]
    coin = {"name": "coin", "route": "status", "action": "http_error", "status": 500}
    coins = faults_from_mapping({"faults": [{**coin, "probability": 0.5}]}, "unit")
    left, right = (FaultEngine(coins, counters=StoreCounters(MemoryStore())) for _ in range(2))
    solo = [(await left.on_request(status)).error is not None for _ in range(32)]
    shared = MemoryStore()
    a, b = (FaultEngine(coins, counters=StoreCounters(shared)) for _ in range(2))
    turns = [(await (a if i % 2 else b).on_request(status)).error is not None for i in range(32)]
    assert turns == solo  # one sequence, whichever replica draws
    assert right is not left
    await one.reset()  # a new generation: counting starts again for every engine on the store
    two.counters = one.counters
    assert (await two.on_request(status)).error is None
    assert (await one.on_request(status)).error is not None
