"""Durations drawn from a distribution: fixed, uniform, normal or lognormal, never negative.

Every draw takes the :class:`random.Random` to use, so the engine decides which seeded stream a
delay comes from and a run with the same seed replays the same durations.

Every duration is within ``0..MAX_SECONDS``: the reader keeps each parameter in the ranges below
(so a lognormal's median ``e**mu`` is within the range too), and every draw is clamped to it, so
sampling never overflows and a scenario that loads can always be served.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

MAX_SECONDS = 1_000_000.0  # about 11.6 days: the longest wait a scenario can ask for
MU_RANGE = (-100.0, 13.8)  # e**13.8 is about 984,609 s, within MAX_SECONDS
MAX_SIGMA = 10.0


class Kind(StrEnum):
    FIXED = "fixed"
    UNIFORM = "uniform"
    NORMAL = "normal"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True, slots=True, kw_only=True)
class Distribution:
    """A duration in gateway seconds.

    ``fixed``: ``seconds``; ``uniform``: ``low``..``high``; ``normal``: ``mean``, ``stddev``;
    ``lognormal``: ``mu``, ``sigma`` of the underlying normal (the median is ``e**mu``).
    A draw is clamped to ``0 <= d <= maximum`` (``MAX_SECONDS`` when ``None``).
    """

    kind: Kind = Kind.FIXED
    seconds: float = 0.0
    low: float = 0.0
    high: float = 0.0
    mean: float = 0.0
    stddev: float = 0.0
    mu: float = 0.0
    sigma: float = 0.0
    maximum: float | None = None

    @classmethod
    def fixed(cls, seconds: float) -> Distribution:
        return cls(kind=Kind.FIXED, seconds=seconds)

    def sample(self, rng: random.Random) -> float:
        if self.kind is Kind.FIXED:
            value = self.seconds
        elif self.kind is Kind.UNIFORM:
            value = rng.uniform(self.low, self.high)
        elif self.kind is Kind.NORMAL:
            value = rng.gauss(self.mean, self.stddev)
        else:
            try:
                value = rng.lognormvariate(self.mu, self.sigma)
            except OverflowError:  # not with parameters the reader admits; kept as a guard
                value = math.inf
        if math.isnan(value):
            value = 0.0
        ceiling = MAX_SECONDS if self.maximum is None else min(self.maximum, MAX_SECONDS)
        return min(max(0.0, value), ceiling)

    def describe(self) -> str:
        if self.kind is Kind.FIXED:
            return f"{self.seconds:g} s"
        if self.kind is Kind.UNIFORM:
            return f"uniform {self.low:g}..{self.high:g} s"
        if self.kind is Kind.NORMAL:
            return f"normal mean {self.mean:g} s, stddev {self.stddev:g} s"
        return f"lognormal mu {self.mu:g}, sigma {self.sigma:g}"


ZERO = Distribution.fixed(0.0)
