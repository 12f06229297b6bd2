"""The timed-work runner is woken by new work only when it would not look for it in time by
itself: work due later than its next look waits for that look, work due sooner wakes it at once.

The runner runs as the server runs it (``Gateway.run_forever`` as a task); each look for work is
counted by wrapping ``run_due``. Nothing here sleeps in real time: the runner's waits are tens of
seconds long, and the test ends by cancelling it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable

from mockgateway import Gateway, config_from_mapping
from mockgateway._clock import ManualClock, RealClock
from mockgateway.store import TaskKind

from .support import served

REST = 50  # event-loop turns given to the runner to act on a wake (it needs a handful)


class Looks:
    """How many times the gateway's runner has looked for due work."""

    def __init__(self, gateway: Gateway) -> None:
        self.count = 0
        run_due = gateway.run_due

        async def counted() -> int:
            self.count += 1
            return await run_due()

        gateway.run_due = counted  # type: ignore[method-assign]


async def _rest() -> None:
    for _ in range(REST):
        await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def running(gateway: Gateway) -> AsyncIterator[Looks]:
    """The gateway open, its runner running and resting (waiting for its next look)."""
    await gateway.open()
    looks = Looks(gateway)
    runner = asyncio.get_running_loop().create_task(gateway.run_forever())
    try:
        await _rest()
        yield looks
    finally:
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await gateway.close()


async def test_a_real_clock_runner_is_woken_only_by_work_due_before_its_next_look() -> None:
    now = [1_800_000_000.0]
    clock = RealClock(wall=lambda: now[0])
    gateway = Gateway(config_from_mapping({"clock": {"mode": "real"}}), clock=clock)

    def at(due: float) -> Awaitable[None]:
        return gateway.timeline.at(due, TaskKind.START, "nobody")

    async with running(gateway) as looks:
        await at(now[0] + 30)  # sooner than its sweep (a minute away): it looks again
        await _rest()
        assert looks.count == 2
        await at(now[0] + 45)  # later than its next look (at +30): no wake
        await at(now[0] + 30)  # due with that look: no wake
        await _rest()
        assert looks.count == 2
        await at(now[0] + 10)  # sooner: woken, and it then waits for +10
        await _rest()
        assert looks.count == 3
        await at(now[0] + 20)
        await _rest()
        assert looks.count == 3
        await at(now[0])  # due now: run now
        await _rest()
        assert looks.count == 4


async def test_a_manual_clock_runner_is_woken_by_work_due_now_and_by_the_clock() -> None:
    clock = ManualClock(1_800_000_000.0)
    gateway = Gateway(config_from_mapping({"clock": {"mode": "manual"}}), clock=clock)
    async with running(gateway) as looks:
        for offset in (1.0, 0.5, 3.0):  # only the clock moving brings these due
            await gateway.timeline.at(clock.now() + offset, TaskKind.START, "nobody")
        await _rest()
        assert looks.count == 1
        clock.advance(0.1)  # the clock moved: the runner looks (nothing is due yet)
        await _rest()
        assert looks.count == 2
        await gateway.timeline.at(clock.now(), TaskKind.START, "nobody")
        await _rest()
        assert looks.count == 3


async def test_submits_on_a_manual_clock_wake_nothing_and_their_jobs_still_run() -> None:
    async with served() as (gw, client):
        looks = Looks(gw.gateway)
        await _rest()
        ids = [(await client.generate()).body["request_id"] for _ in range(20)]
        await _rest()
        assert looks.count == 0  # their starts are a second away: the clock brings them due
        clock = gw.gateway.clock
        assert isinstance(clock, ManualClock)
        clock.advance(1.0)  # moved by hand, not by an advance: the runner runs them
        statuses: set[str] = set()
        for _ in range(20):
            await _rest()
            statuses = {(await client.status(rid)).body["status"] for rid in ids}
            if statuses != {"QUEUED"}:
                break
        assert statuses == {"PROCESSING"}, statuses
        assert looks.count >= 1


async def test_a_job_due_to_start_at_once_starts_without_an_advance() -> None:
    config = config_from_mapping({"clock": {"mode": "manual"}, "lifecycle": {"queue_seconds": 0}})
    async with served(config) as (_, client):
        rid = (await client.generate()).body["request_id"]
        for _ in range(20):
            await _rest()
            if (await client.status(rid)).body["status"] != "QUEUED":
                break
        assert (await client.status(rid)).body["status"] == "PROCESSING"
