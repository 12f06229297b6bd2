"""No money stays held: every path that ends a job captures or releases exactly what it held.

A job's cost is held once its inputs are fetched and priced. Operator commands, scenario faults,
phase changes and the fetch itself can come in any order; whatever the order, a finished job holds
nothing, the ledger replays to each wallet's balance, and ``balance + charges`` equals what the
balance was set to. The operator may lower a balance under a hold: the capture then takes at most
the balance, so neither balance nor available goes negative.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mockgateway import ManualClock
from mockgateway._billing import Movement, money_str
from mockgateway._jobs import Status
from mockgateway.media import JobInputs, Probe, RenderedMedia

from .support import KEY, Client, manual_config, memory_of, served

START = 1_774_951_200.0
HEADER = "X-Mock-Scenario"


class GatedPipeline:
    """A media pipeline whose input fetch for each job waits until the test lets it finish."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.seconds: dict[str, float] = {}

    def gate(self, request_id: str) -> asyncio.Event:
        return self.gates.setdefault(request_id, asyncio.Event())

    async def probe(self, inputs: JobInputs) -> Probe:
        await self.gate(inputs.request_id).wait()
        seconds = self.seconds.get(inputs.request_id, 5.0)
        return Probe(duration_seconds=seconds, resolution=inputs.output.resolution)

    async def render(self, probe: Probe) -> RenderedMedia:
        await asyncio.sleep(0)
        return RenderedMedia.of(b"\x00\x00\x00\x18ftypmp42")

    async def close(self) -> None:
        return None


async def _turns(n: int = 10) -> None:
    """Let the gateway's tasks run (a fetch that was let through, its render, its settlement)."""
    for _ in range(n):
        await asyncio.sleep(0)


async def _advance(gateway: Any, clock: ManualClock, seconds: float) -> None:
    """Move the manual clock, running each due phase change at its time, without waiting for
    fetches still in flight (which ``Gateway.advance`` would)."""
    target = clock.now() + seconds
    while (due := await gateway.next_due()) is not None and due <= target:
        clock.set(max(due, clock.now()))
        await gateway.run_due()
        await _turns()
    clock.set(target)
    await gateway.run_due()
    await _turns()


def _no_hold_for_an_ended_job(gateway: Any) -> None:
    store = memory_of(gateway)
    for key, wallet in store.wallets.items():
        holds = store.holds_of(key)
        for request_id in holds:
            assert not store.jobs[request_id].status.terminal, (request_id, dict(holds))
        assert wallet.held == sum(holds.values(), Decimal(0))  # the running sum is exact
        assert wallet.balance >= 0
        assert wallet.available >= 0


def _ledger_is_consistent(gateway: Any, key: str) -> None:
    """Replaying the ledger gives every entry's balance and held, and the wallet's own; after the
    last set, ``balance + charges == set``; a job holds once and is settled at most once."""
    balance, held = Decimal(0), Decimal(0)
    holds: dict[str, Decimal] = {}
    settled: set[str] = set()
    since_set = Decimal(0)
    last_set = Decimal(0)
    store = memory_of(gateway)
    wallet = store.wallets[key]
    for entry in store.ledger_of(key):
        rid = entry.request_id
        if entry.movement is Movement.SET:
            balance, last_set, since_set = entry.amount, entry.amount, Decimal(0)
        elif entry.movement is Movement.HOLD:
            assert rid is not None
            assert rid not in holds
            assert rid not in settled
            holds[rid] = entry.amount
            held += entry.amount
        else:
            assert rid is not None
            assert rid not in settled
            settled.add(rid)
            hold = holds.pop(rid)
            held -= hold
            if entry.movement is Movement.CHARGE:
                assert entry.amount <= hold
                balance -= entry.amount
                since_set += entry.amount
            else:
                assert entry.amount == hold
        assert (entry.balance_after, entry.held_after) == (balance, held), entry
        assert balance >= 0
    assert (wallet.balance, wallet.held, dict(store.holds_of(key))) == (balance, held, holds)
    assert wallet.balance + since_set == last_set


@dataclass(frozen=True)
class Submit:
    scenario: str | None
    seconds: float
    fetched: bool  # its inputs arrive as soon as they are asked for


@dataclass(frozen=True)
class Command:
    job: int
    name: str


@dataclass(frozen=True)
class Advance:
    seconds: float


@dataclass(frozen=True)
class Fetch:
    job: int


@dataclass(frozen=True)
class SetBalance:
    amount: Decimal


STEPS = st.one_of(
    st.builds(
        Submit,
        st.sampled_from([None, None, None, None, "failed", "error", "early-fail", "early-error"]),
        st.floats(min_value=0.2, max_value=40.0),
        st.booleans(),
    ),
    st.builds(
        Command, st.integers(0, 7), st.sampled_from(["complete", "fail", "error", "advance"])
    ),
    st.builds(Advance, st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])),
    st.builds(Fetch, st.integers(0, 7)),
    st.builds(
        SetBalance,
        st.one_of(
            st.sampled_from([Decimal(0), Decimal("0.10"), Decimal("0.50"), Decimal("1.00")]),
            st.decimals(min_value=0, max_value=12, places=2),
        ),
    ),
)

SCENARIO = {
    "faults": [
        {"action": "fail", "at": "queued", "scenario": "early-fail"},
        {"action": "error", "at": "queued", "scenario": "early-error"},
    ]
}


class Commands:
    """Operator commands sent over HTTP without waiting for their answers: the gateway applies a
    command at once but answers only when in-flight work is done, and a fetch held open here
    would hold that answer. :meth:`send` returns once the gateway has applied the command."""

    def __init__(self, gateway: Any, client: Client) -> None:
        self.client = client
        self.pending: list[asyncio.Task[Any]] = []
        self._applied = asyncio.Event()
        command = gateway.lifecycle.command

        async def applied(*args: Any) -> Any:
            try:
                return await command(*args)
            finally:
                self._applied.set()

        gateway.lifecycle.command = applied

    async def send(self, request_id: str, name: str) -> None:
        self._applied.clear()
        path = f"/_mock/jobs/{request_id}/{name}"
        self.pending.append(asyncio.create_task(self.client.request("POST", path, key=None)))
        await asyncio.wait_for(self._applied.wait(), timeout=10)
        await _turns()

    async def answers(self) -> list[int]:
        return [answer.status for answer in await asyncio.gather(*self.pending)]


async def _run(steps: list[Any], charge_failed: bool) -> None:
    pipeline = GatedPipeline()
    clock = ManualClock(START)
    config = manual_config(billing={"charge_failed": charge_failed}, **SCENARIO)
    async with served(config, clock=clock, media=pipeline) as (gw, client):
        gateway = gw.gateway
        commands = Commands(gateway, client)
        ids: list[str] = []
        for step in steps:
            await _step(step, gateway, clock, client, pipeline, ids, commands)
            _no_hold_for_an_ended_job(gateway)
            wallets = (await client.request("GET", "/_mock/wallets", key=None)).body["wallets"]
            assert all(Decimal(w["available"]) >= 0 for w in wallets)  # and the Money pattern
        for request_id in ids:
            pipeline.gate(request_id).set()
        assert set(await commands.answers()) <= {200, 409}
        await gateway.advance(3600)
        for request_id in ids:
            job = memory_of(gateway).jobs[request_id]
            assert job.status.terminal, job
            if job.status is Status.ERROR or (job.status is Status.FAILED and not charge_failed):
                ledger = memory_of(gateway).ledger_of(KEY)
                assert Movement.CHARGE not in [
                    e.movement for e in ledger if e.request_id == request_id
                ]
        _no_hold_for_an_ended_job(gateway)
        store = memory_of(gateway)
        for key in store.wallets:
            assert dict(store.holds_of(key)) == {}
            _ledger_is_consistent(gateway, key)
        answer = await client.request("GET", f"/_mock/wallets/{KEY}", key=None)
        assert answer.body["held"] == "0.00"
        assert answer.body["balance"] == answer.body["available"]


async def _step(
    step: Any,
    gateway: Any,
    clock: ManualClock,
    client: Client,
    pipeline: GatedPipeline,
    ids: list[str],
    commands: Commands,
) -> None:
    if isinstance(step, Submit):
        headers = {HEADER: step.scenario} if step.scenario else {}
        answer = await client.generate(headers=headers)
        if answer.status == 202:
            ids.append(answer.body["request_id"])
            pipeline.seconds[ids[-1]] = step.seconds
            if step.fetched:
                pipeline.gate(ids[-1]).set()
        else:
            assert answer.status == 402, answer.raw  # the balance does not cover one second
    elif isinstance(step, Command) and ids:
        await commands.send(ids[step.job % len(ids)], step.name)
    elif isinstance(step, Advance):
        await _advance(gateway, clock, step.seconds)
    elif isinstance(step, Fetch) and ids:
        pipeline.gate(ids[step.job % len(ids)]).set()
        await _turns()
    elif isinstance(step, SetBalance):
        body = {"balance": money_str(step.amount)}
        answer = await client.request("PUT", f"/_mock/wallets/{KEY}", body=body, key=None)
        assert answer.status == 200, answer.raw


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(STEPS, max_size=20), st.booleans())
@example(  # failed while its inputs are fetched
    [Submit(None, 5.0, False), Advance(1.0), Command(0, "fail"), Fetch(0)], False
)
@example(  # the balance lowered under its hold, then completed
    [Submit(None, 5.0, True), Advance(1.0), SetBalance(Decimal("0.10")), Advance(2.0)], True
)
def test_no_interleaving_leaves_money_held_or_the_ledger_inconsistent(
    steps: list[Any], charge_failed: bool
) -> None:
    asyncio.run(_run(steps, charge_failed))


# the two orders that went wrong, pinned ---------------------------------------------------------


async def test_a_job_failed_while_its_inputs_are_fetched_holds_nothing() -> None:
    pipeline = GatedPipeline()
    async with served(manual_config(), clock=ManualClock(START), media=pipeline) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await _advance(gw.gateway, gw.gateway.clock, 1.0)  # PROCESSING, its fetch in flight
        assert memory_of(gw.gateway).jobs[rid].status is Status.PROCESSING
        commands = Commands(gw.gateway, client)
        await commands.send(rid, "fail")
        assert memory_of(gw.gateway).jobs[rid].status is Status.FAILED
        pipeline.gate(rid).set()  # the fetch completes after the job ended
        assert await commands.answers() == [200]
        await gw.advance(10)
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert (wallet["balance"], wallet["held"], wallet["available"]) == (
            "10.00",
            "0.00",
            "10.00",
        )
        assert [e["movement"] for e in wallet["ledger"]] == ["set"]
        assert memory_of(gw.gateway).jobs[rid].cost is None  # never priced: it ended first


async def test_a_balance_lowered_under_a_hold_is_charged_at_most_the_balance() -> None:
    pipeline = GatedPipeline()
    async with served(manual_config(), clock=ManualClock(START), media=pipeline) as (gw, client):
        rid = (await client.generate()).body["request_id"]
        pipeline.seconds[rid] = 6.0
        pipeline.gate(rid).set()
        await gw.advance(1)  # fetched and priced: 6 s x 0.16 held
        wallet = await client.admin("PUT", f"wallets/{KEY}", {"balance": "0.50"})
        assert (wallet["balance"], wallet["held"], wallet["available"]) == ("0.50", "0.96", "0.00")
        assert (await client.generate()).status == 402  # nothing available for another job
        await gw.advance(2)
        assert memory_of(gw.gateway).jobs[rid].status is Status.COMPLETED
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert (wallet["balance"], wallet["held"], wallet["available"]) == ("0.00", "0.00", "0.00")
        charge = wallet["ledger"][-1]
        assert (charge["movement"], charge["amount"]) == ("charge", "0.50")
        assert "capped at the balance" in charge["note"]
        job = await client.admin("GET", f"jobs/{rid}")
        assert job["cost"] == "0.96"
        assert any("charged 0.50 of its 0.96 cost" in n for n in job["notes"])
        _ledger_is_consistent(gw.gateway, KEY)
