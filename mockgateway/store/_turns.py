"""A first-come, first-served lock whose uncontended take does not await.

The memory store's steps (each job's phase change is one) take this around their work. Almost
always nobody else holds it, and :meth:`Turns.try_take` then takes it in one call, where
``asyncio.Lock`` costs a coroutine to acquire and two calls to release.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class Turns:
    """One holder at a time; those who wait are served in the order they came."""

    __slots__ = ("_waiting", "held")

    def __init__(self) -> None:
        self.held = False
        self._waiting: deque[asyncio.Future[None]] = deque()

    def try_take(self) -> bool:
        """Take it if it is free and nobody waits for it (no one is passed over)."""
        if self.held or self._waiting:
            return False
        self.held = True
        return True

    async def take(self) -> None:
        """Take it, waiting for those before."""
        if self.try_take():
            return
        turn = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn  # resolved by give(): handed over, still held
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.give()  # handed over as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiting.remove(turn)
            raise

    def give(self) -> None:
        """Give it back: to the first still waiting, else free."""
        waiting = self._waiting
        while waiting:
            turn = waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.held = False


__all__ = ["Turns"]
