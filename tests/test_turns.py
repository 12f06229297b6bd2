"""The memory store's first-come, first-served lock (mockgateway/store/_turns.py)."""

from __future__ import annotations

import asyncio

from mockgateway.store._turns import Turns


def test_a_free_turn_is_taken_without_waiting_and_given_back() -> None:
    turns = Turns()
    assert turns.try_take()
    assert turns.held
    assert not turns.try_take()  # one holder at a time
    turns.give()
    assert not turns.held
    assert turns.try_take()


async def test_waiters_are_served_in_the_order_they_came() -> None:
    turns = Turns()
    await turns.take()
    served: list[int] = []

    async def step(n: int) -> None:
        await turns.take()
        served.append(n)
        await asyncio.sleep(0)  # hold it across a switch: the next must still wait
        turns.give()

    tasks = [asyncio.create_task(step(n)) for n in range(5)]
    await asyncio.sleep(0)
    assert not turns.try_take()  # held, and waited for: nobody passes the queue
    turns.give()
    await asyncio.gather(*tasks)
    assert served == [0, 1, 2, 3, 4]
    assert not turns.held


async def test_a_waiter_cancelled_while_waiting_leaves_the_queue() -> None:
    turns = Turns()
    await turns.take()
    first = asyncio.create_task(turns.take())
    second = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    turns.give()
    await second  # the turn went to the one still waiting
    assert turns.held
    turns.give()
    assert not turns.held


async def test_a_turn_handed_to_a_waiter_cancelled_before_it_ran_is_passed_on() -> None:
    turns = Turns()
    await turns.take()
    first = asyncio.create_task(turns.take())
    second = asyncio.create_task(turns.take())
    await asyncio.sleep(0)
    turns.give()  # handed to the first ...
    first.cancel()  # ... which is cancelled before it resumes
    results = await asyncio.gather(first, return_exceptions=True)
    assert isinstance(results[0], asyncio.CancelledError)
    await second  # not lost: the second holds it now
    assert turns.held
    turns.give()
    assert not turns.held
    assert turns.try_take()
