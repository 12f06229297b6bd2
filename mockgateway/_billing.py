"""Wallets and per-second billing in exact decimal money.

The price is per started second of output ([inferred]: duration rounded up). A job's cost is held
when its duration is known, captured when it completes and released when it fails or errors, so
``available = balance - held`` never goes negative. Every movement is a ledger entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")


class Movement(StrEnum):
    SET = "set"
    HOLD = "hold"
    CHARGE = "charge"
    RELEASE = "release"


def billed_seconds(duration_seconds: float) -> int:
    """Whole seconds billed for an output this long: every started second counts, at least one."""
    # Rounded to the millisecond first so 10.000000001 s of float noise is not an 11th second.
    return max(1, math.ceil(round(duration_seconds, 3)))


def cost_of(duration_seconds: float, price_per_second: Decimal) -> Decimal:
    return price_per_second * billed_seconds(duration_seconds)


def money_str(amount: Decimal) -> str:
    """Decimal string with at least two places and never an exponent: ``9.84`` -> ``"9.84"``,
    ``5`` -> ``"5.00"``, ``0.0000001`` -> ``"0.0000001"``."""
    cents = amount.quantize(CENT)
    return f"{cents:f}" if amount == cents else f"{amount.normalize():f}"


@dataclass(frozen=True, slots=True, kw_only=True)
class LedgerEntry:
    movement: Movement
    amount: Decimal
    balance_after: Decimal
    held_after: Decimal
    at: float
    request_id: str | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "movement": self.movement.value,
            "amount": money_str(self.amount),
            "balance_after": money_str(self.balance_after),
            "held_after": money_str(self.held_after),
            "at": self.at,
            "request_id": self.request_id,
            "note": self.note,
        }


class InsufficientFunds(Exception):
    pass


@dataclass(slots=True)
class Wallet:
    key: str
    balance: Decimal
    holds: dict[str, Decimal] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)

    @property
    def held(self) -> Decimal:
        return sum(self.holds.values(), Decimal(0))

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    def _record(
        self, movement: Movement, amount: Decimal, at: float, rid: str | None, note: str
    ) -> None:
        self.ledger.append(
            LedgerEntry(
                movement=movement,
                amount=amount,
                balance_after=self.balance,
                held_after=self.held,
                at=at,
                request_id=rid,
                note=note,
            )
        )

    def set_balance(self, amount: Decimal, at: float, note: str = "") -> None:
        self.balance = amount
        self._record(Movement.SET, amount, at, None, note)

    def can_cover(self, amount: Decimal) -> bool:
        return self.available >= amount

    def hold(self, request_id: str, amount: Decimal, at: float) -> None:
        if request_id in self.holds:
            raise ValueError(f"{request_id} already holds {self.holds[request_id]}")
        if not self.can_cover(amount):
            raise InsufficientFunds(
                f"{money_str(self.available)} available, {money_str(amount)} needed"
            )
        self.holds[request_id] = amount
        self._record(Movement.HOLD, amount, at, request_id, "")

    def capture(self, request_id: str, at: float) -> Decimal:
        amount = self.holds.pop(request_id)
        self.balance -= amount
        self._record(Movement.CHARGE, amount, at, request_id, "")
        return amount

    def release(self, request_id: str, at: float, note: str = "") -> Decimal:
        amount = self.holds.pop(request_id, Decimal(0))
        if amount:
            self._record(Movement.RELEASE, amount, at, request_id, note)
        return amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "balance": money_str(self.balance),
            "held": money_str(self.held),
            "available": money_str(self.available),
            "ledger": [e.to_dict() for e in self.ledger],
        }
