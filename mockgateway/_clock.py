"""The gateway's one clock: real, scaled or advanced by hand.

Every timed behaviour (phase changes, webhook retries, Retry-After windows, poll-pace rules)
reads gateway time from a :class:`Clock`, so a test can compress or drive time instead of sleeping.
Gateway time is seconds since the Unix epoch, as a float.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Protocol


class ClockMode(StrEnum):
    REAL = "real"
    SCALED = "scaled"
    MANUAL = "manual"


class Clock(Protocol):
    """What the scheduler and the rules need of time."""

    @property
    def mode(self) -> ClockMode: ...

    def now(self) -> float:
        """Gateway time, seconds since the epoch."""
        ...

    def real_delay(self, gateway_seconds: float) -> float | None:
        """Real seconds until ``gateway_seconds`` pass; None when only a hand moves time."""
        ...


class RealClock:
    mode = ClockMode.REAL

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        # ``now`` is the wall clock itself, not a method calling it: every request reads it twice.
        self.now: Callable[[], float] = wall

    def real_delay(self, gateway_seconds: float) -> float | None:
        return max(0.0, gateway_seconds)


class ScaledClock:
    """Gateway time runs ``speed`` times faster than real time, from the moment it is made.

    ``speed=10`` makes a 2 s processing phase take 0.2 real seconds.
    """

    mode = ClockMode.SCALED

    def __init__(
        self,
        speed: float,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.speed = speed
        self._wall = wall
        self._origin = wall()
        self._mono0 = monotonic()
        self._monotonic = monotonic

    def now(self) -> float:
        return self._origin + (self._monotonic() - self._mono0) * self.speed

    def anchor(self) -> tuple[float, float]:
        """Gateway time and wall time of one moment, to :meth:`resume` from elsewhere."""
        return self.now(), self._wall()

    def resume(self, gateway_at: float, wall_at: float) -> None:
        """Run on from an anchor taken before (a restart) or by another replica: gateway time is
        ``gateway_at`` plus the wall time since ``wall_at``, times the speed."""
        self._origin = gateway_at + (self._wall() - wall_at) * self.speed
        self._mono0 = self._monotonic()

    def real_delay(self, gateway_seconds: float) -> float | None:
        return max(0.0, gateway_seconds) / self.speed


class ManualClock:
    """Time moves only when :meth:`advance` or :meth:`set` is called."""

    mode = ClockMode.MANUAL

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._listeners: list[Callable[[], None]] = []

    def now(self) -> float:
        return self._now

    def real_delay(self, gateway_seconds: float) -> float | None:
        return None

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        return self.set(self._now + seconds)

    def set(self, when: float) -> float:
        if when < self._now:
            raise ValueError("time cannot go backwards")
        self._now = when
        for listener in list(self._listeners):
            listener()
        return self._now

    def resume(self, when: float) -> None:
        """At start: run on from a time kept from before (a restart), earlier than now or not."""
        self._now = when
        for listener in list(self._listeners):
            listener()

    def restore(self, when: float) -> None:
        """Take up a time kept from before (a restart, another replica's advance); never back."""
        if when > self._now:
            self.set(when)

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after every move of the clock (the scheduler wakes on it)."""
        self._listeners.append(listener)


def make_clock(mode: ClockMode, speed: float = 1.0, start: float | None = None) -> Clock:
    if mode is ClockMode.MANUAL:
        return ManualClock(start)
    if mode is ClockMode.SCALED or speed != 1.0:
        return ScaledClock(speed)
    return RealClock()
