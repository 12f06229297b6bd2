"""Pure pieces: clock, scheduler, lifecycle rules, billing arithmetic, time format, ids, policy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway import ManualClock, ScaledClock, Status
from mockgateway._billing import (
    WalletState,
    billed_seconds,
    capture_entry,
    cost_of,
    hold_entry,
    money_str,
    release_entry,
    set_entry,
)
from mockgateway._config import WebhookConfig
from mockgateway._ids import new_request_id, uuid7
from mockgateway._jobs import IllegalTransition, Job, rendered_status, status_body
from mockgateway._jsonfmt import wire_json
from mockgateway._scheduler import Scheduler
from mockgateway._timefmt import TIMESTAMP_PATTERN, iso_ms, parse_iso_ms
from mockgateway._webhooks import backoff_delay, host_allowed


def test_manual_clock_moves_only_by_hand_and_never_back() -> None:
    clock = ManualClock(100.0)
    assert clock.now() == 100.0
    assert clock.real_delay(5) is None
    clock.advance(2.5)
    assert clock.now() == 102.5
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(50)


def test_scaled_clock_runs_faster_and_shortens_real_waits() -> None:
    ticks = iter([0.0, 1.0])
    clock = ScaledClock(10, wall=lambda: 1000.0, monotonic=lambda: next(ticks))
    assert clock.now() == 1010.0
    assert clock.real_delay(5) == 0.5
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)


def test_scheduler_runs_due_actions_in_order_including_ones_they_add() -> None:
    clock = ManualClock(0.0)
    scheduler = Scheduler(clock)
    seen: list[str] = []
    scheduler.call_at(2, lambda: seen.append("b"))
    scheduler.call_at(
        1, lambda: (seen.append("a"), scheduler.call_at(1.5, lambda: seen.append("a2")))
    )
    cancelled = scheduler.call_at(1.2, lambda: seen.append("never"))
    cancelled.cancel()
    assert scheduler.run_due() == 0
    clock.set(1.9)
    assert scheduler.run_due() == 2
    assert seen == ["a", "a2"]
    clock.set(2)
    scheduler.run_due()
    assert seen == ["a", "a2", "b"]
    assert scheduler.next_due() is None


def test_scheduler_survives_a_failing_action() -> None:
    clock = ManualClock(0.0)
    scheduler = Scheduler(clock)
    seen: list[int] = []
    scheduler.call_at(0, lambda: 1 / 0)  # type: ignore[func-returns-value]
    scheduler.call_at(0, lambda: seen.append(1))
    scheduler.run_due()
    assert seen == [1]


async def test_a_sleep_ends_when_its_clock_time_has_passed_or_the_scheduler_is_cleared() -> None:
    clock = ManualClock(0.0)
    scheduler = Scheduler(clock)
    first, second = scheduler.sleep(2), scheduler.sleep(5)
    assert scheduler.sleeping == 2
    clock.set(1.9)
    scheduler.run_due()
    assert not first.done()
    clock.set(2)
    scheduler.run_due()
    assert first.done()
    await asyncio.sleep(0)  # one turn of the loop: the future's done-callback runs
    assert scheduler.sleeping == 1
    scheduler.clear()  # a reset: the held answer goes out now rather than never
    assert second.done()
    await asyncio.sleep(0)
    assert scheduler.sleeping == 0


async def test_a_cancelled_sleep_leaves_no_entry_behind() -> None:
    scheduler = Scheduler(ManualClock(0.0))
    sleep = scheduler.sleep(3)
    assert len(scheduler) == 1
    sleep.cancel()  # the client went away while its answer was held
    await asyncio.sleep(0)
    assert len(scheduler) == 0
    assert scheduler.sleeping == 0


def test_scheduler_holds_100k_entries_as_plain_heap_items() -> None:
    clock = ManualClock(0.0)
    scheduler = Scheduler(clock)
    count = [0]

    def bump() -> None:
        count[0] += 1

    for i in range(100_000):
        scheduler.call_at(i % 100, bump)
    assert len(scheduler) == 100_000
    clock.set(49.5)
    scheduler.run_due()
    assert count[0] == 50_000


def job(**overrides: object) -> Job:
    values: dict[str, object] = dict(
        request_id="m_1",
        model_id="m",
        key="k",
        inputs=(("image_url", "i"), ("audio_url", "a")),
        resolution="1080p",
        created_at=0.0,
        updated_at=0.0,
    )
    values.update(overrides)
    return Job(**values)  # type: ignore[arg-type]


def test_lifecycle_moves_only_forward_along_the_doc_flow() -> None:
    j = job()
    with pytest.raises(IllegalTransition):
        j.move(Status.COMPLETED, 1.0)
    j.move(Status.PROCESSING, 1.0)
    with pytest.raises(IllegalTransition):
        j.move(Status.QUEUED, 2.0)
    j.move(Status.COMPLETED, 3.0)
    assert j.completed_at == 3.0
    for target in Status:
        with pytest.raises(IllegalTransition):
            j.move(target, 4.0)
    assert [s for s, _ in j.history] == [Status.PROCESSING, Status.COMPLETED]


def test_status_body_shape_per_status() -> None:
    j = job(media_urls=("http://x/v1/m_1/output.mp4",))
    assert status_body(j)["output"] is None
    j.move(Status.PROCESSING, 1.0)
    j.move(Status.ERROR, 2.5, error="boom")
    body = status_body(j)
    assert body["status"] == "ERROR"
    assert body["error"] == "boom"
    assert body["output"] is None
    assert body["completed_at"] == "1970-01-01T00:00:02.500Z"


@pytest.mark.parametrize(
    ("seconds", "billed"), [(0.001, 1), (1.0, 1), (1.0004, 1), (1.01, 2), (9.96, 10), (29.999, 30)]
)
def test_every_started_second_is_billed(seconds: float, billed: int) -> None:
    assert billed_seconds(seconds) == billed
    assert cost_of(seconds, Decimal("0.16")) == Decimal("0.16") * billed


def test_wallet_rules_hold_capture_release_with_a_running_held_sum() -> None:
    wallet = WalletState("k", Decimal(0))
    ledger = [set_entry(wallet, Decimal("1.00"), 0.0)]
    first = hold_entry(wallet, "r1", Decimal("0.64"), 1.0)
    assert first is not None
    ledger.append(first)
    assert wallet.available == Decimal("0.36")
    assert hold_entry(wallet, "r2", Decimal("0.48"), 2.0) is None  # not covered: nothing held
    assert wallet.held == Decimal("0.64")
    third = hold_entry(wallet, "r3", Decimal("0.32"), 2.0)
    assert third is not None
    ledger.append(third)
    ledger.append(capture_entry(wallet, "r1", Decimal("0.64"), 3.0))
    ledger.append(release_entry(wallet, "r3", Decimal("0.32"), 4.0))
    assert wallet.balance == Decimal("0.36")
    assert wallet.held == 0
    assert wallet.charged == Decimal("0.64")
    assert [e.movement.value for e in ledger] == ["set", "hold", "hold", "charge", "release"]
    assert ledger[3].balance_after == Decimal("0.36")


def test_a_capture_takes_at_most_the_balance() -> None:
    wallet = WalletState("k", Decimal("1.00"))
    assert hold_entry(wallet, "r1", Decimal("0.96"), 1.0) is not None
    set_entry(wallet, Decimal("0.50"), 2.0)
    assert wallet.available == 0  # never negative, though the hold is above the balance
    charge = capture_entry(wallet, "r1", Decimal("0.96"), 3.0)
    assert (charge.amount, wallet.balance, wallet.held) == (Decimal("0.50"), 0, 0)
    assert "capped at the balance" in charge.note


def test_money_strings() -> None:
    assert money_str(Decimal("9.84")) == "9.84"
    assert money_str(Decimal("5")) == "5.00"
    assert money_str(Decimal("0.125")) == "0.125"
    assert money_str(Decimal("0.0000001")) == "0.0000001"  # never an exponent
    assert money_str(Decimal("1E+12")) == "1000000000000.00"


def test_timestamps_in_the_doc_format() -> None:
    assert iso_ms(1774951215.0) == "2026-03-31T10:00:15.000Z"
    assert iso_ms(1774951215.0126) == "2026-03-31T10:00:15.013Z"
    assert iso_ms(1774951215.9996) == "2026-03-31T10:00:16.000Z"
    assert parse_iso_ms("2026-03-31T10:00:15.000Z") == 1774951215.0
    with pytest.raises(ValueError, match="not a timestamp"):
        parse_iso_ms("2026-03-31T10:00:15Z")


@given(st.floats(min_value=-1e9, max_value=4e9, allow_nan=False))
def test_a_timestamp_is_the_time_rounded_to_its_millisecond(t: float) -> None:
    ms = round(t * 1000)
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    assert iso_ms(t) == f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"
    assert TIMESTAMP_PATTERN.match(iso_ms(t))


def test_request_ids_carry_a_version_7_uuid_ordered_by_time() -> None:
    a = uuid7(1774951215.0)
    b = uuid7(1774951216.0)
    assert a.version == 7
    assert a.hex[:12] < b.hex[:12]
    rid = new_request_id("bytedance-omnihuman-v1-5-290", 1774951215.0)
    assert rid.startswith("bytedance-omnihuman-v1-5-290_019d")


def test_webhook_host_policy_allows_loopback_and_listed_hosts_only() -> None:
    assert host_allowed("http://127.0.0.1:9000/h", ())
    assert host_allowed("http://localhost/h", ())
    assert host_allowed("http://[::1]:80/h", ())
    assert not host_allowed("https://your-server.com/webhook", ())
    assert not host_allowed("http://10.0.0.1/h", ())
    assert not host_allowed("http://localhost.evil.test/h", ())
    assert host_allowed("https://hooks.example.com/h", ("hooks.example.com",))
    assert host_allowed("https://a.example.com/h", ("*.example.com",))
    assert not host_allowed("https://example.com.evil.test/h", ("*.example.com",))


def test_backoff_doubles_from_the_initial_delay() -> None:
    config = WebhookConfig(initial_backoff_seconds=0.5, backoff_factor=3)
    assert [backoff_delay(n, config) for n in (1, 2, 3)] == [0.5, 1.5, 4.5]


def test_a_job_stored_before_models_were_data_reads_with_its_two_inputs() -> None:
    stored = job().to_dict()
    del stored["inputs"], stored["aspect_ratio"], stored["seconds"], stored["per"]
    stored["image_url"], stored["audio_url"] = "https://a.test/i.png", "https://a.test/a.mp3"
    read = Job.from_dict(stored)
    assert read.inputs == (
        ("image_url", "https://a.test/i.png"),
        ("audio_url", "https://a.test/a.mp3"),
    )
    assert read.per == "output_second"
    assert (read.aspect_ratio, read.seconds) == (None, None)
    assert Job.from_dict(read.to_dict()) == read


_TEXT = st.text(st.characters(codec="utf-8") | st.sampled_from(['"', "\\", "\x00", "\ud800"]))
_TIME = st.floats(min_value=0, max_value=253_402_300_799, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(
    request_id=_TEXT,
    model_id=_TEXT,
    status=st.sampled_from(list(Status)),
    error=st.none() | _TEXT,
    urls=st.lists(_TEXT, max_size=3),
    media_type=_TEXT,
    times=st.tuples(_TIME, _TIME, st.none() | _TIME),
    same=st.booleans(),
)
def test_the_status_bytes_are_the_general_encoder_s_to_the_byte(
    request_id: str,
    model_id: str,
    status: Status,
    error: str | None,
    urls: list[str],
    media_type: str,
    times: tuple[float, float, float | None],
    same: bool,
) -> None:
    """The status body written from its template is what ``dumps`` makes of ``status_body``,
    lone surrogates cleaned the same way, whatever the strings and times."""
    created, updated, completed = times
    if same:  # the common case: one instant for several of the times
        created = updated
        completed = None if completed is None else updated
    job = Job(
        request_id=request_id,
        model_id=model_id,
        key="k",
        inputs=(),
        resolution=None,
        created_at=created,
        updated_at=updated,
        status=status,
        completed_at=completed,
        error=error,
        media_urls=tuple(urls),
        media_type=media_type,
    )
    assert rendered_status(job) == wire_json(status_body(job))[1]
