"""Wallets and per-second billing in exact decimal money.

The price is per started second of output ([inferred]: duration rounded up). A job's cost is held
when its duration is known, captured when it completes and released when it fails or errors, so
``available = balance - held`` never goes negative. Every movement is a ledger entry.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

CENT = Decimal("0.01")
MONEY_PLACES = 6
MONEY_QUANTUM = Decimal(1).scaleb(-MONEY_PLACES)
MAX_MONEY = Decimal(10) ** 12  # far above any test's needs; 13 + 6 digits fit Decimal's 28
MONEY_RULE = f"from 0 to {MAX_MONEY:,} with at most {MONEY_PLACES} decimal places"
MAX_MONEY_TEXT = 64  # characters: longer text is no amount in range (and is not echoed back)
# the grammar of money as text (operator.openapi.json's BalanceUpdate states the same)
MONEY_TEXT = re.compile(r"^\+?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[Ee][+-]?[0-9]+)?$")


class MoneyError(ValueError):
    """An amount that is not money, or not within the money range and scale."""


def parse_money(raw: object) -> Decimal:
    """Exact decimal money from a string or a number, within :data:`MONEY_RULE`.

    Floats go through their ``str``: the shortest repr (``0.16`` is ``Decimal("0.16")``), or for a
    number read from a body or a file (an ``ExactFloat``) the text as written, so no float rounds
    it first. Nothing is rounded: an amount with more places than :data:`MONEY_PLACES` is
    refused, not cut.
    """
    shown = _shown(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, Decimal)):
        raise MoneyError(f'expected an amount of money such as "25.00", got {shown}')
    if isinstance(raw, int) and abs(raw) > MAX_MONEY:  # also too long to print, perhaps
        raise MoneyError(_range_message(raw < 0, shown))
    if isinstance(raw, str):
        text = raw
        if len(text) > MAX_MONEY_TEXT or not MONEY_TEXT.fullmatch(text.removeprefix("-")):
            raise MoneyError(f'expected an amount of money such as "25.00", got {shown}')
    else:
        text = str(raw)  # a Decimal's str is exact, and never longer than its JSON text
    try:
        value = Decimal(text)
    except InvalidOperation:  # not reached for text the grammar admits; kept as a guard
        value = Decimal("NaN")
    if not value.is_finite():
        raise MoneyError(f'expected an amount of money such as "25.00", got {shown}')
    if not 0 <= value <= MAX_MONEY:
        raise MoneyError(_range_message(value < 0, shown))
    exact = value.quantize(MONEY_QUANTUM)  # in range, so this fits the context's precision
    if exact != value:
        raise MoneyError(
            f"amount of money can have at most {MONEY_PLACES} decimal places"
            f" (it is never rounded), got {shown}"
        )
    return abs(exact)  # "-0" is 0


def _range_message(negative: bool, shown: str) -> str:
    if negative:
        return f"amount of money cannot be negative ({MONEY_RULE}), got {shown}"
    return f"amount of money can be at most {MAX_MONEY:,}, got {shown}"


def _shown(raw: object) -> str:
    """``raw`` for an error message, cut to a readable length."""
    if isinstance(raw, int) and abs(raw) >= 10**MAX_MONEY_TEXT:
        return f"an integer of more than {MAX_MONEY_TEXT} digits"
    text = str(raw) if isinstance(raw, Decimal) else repr(raw)  # a Decimal as the JSON had it
    if len(text) <= MAX_MONEY_TEXT:
        return text
    return f"{text[:MAX_MONEY_TEXT]}... ({len(text)} characters)"


class Movement(StrEnum):
    SET = "set"
    HOLD = "hold"
    CHARGE = "charge"
    RELEASE = "release"


# (as names of their own: every hold and charge reads one; see Status in mockgateway._jobs)
_SET, _HOLD, _CHARGE, _RELEASE = Movement.SET, Movement.HOLD, Movement.CHARGE, Movement.RELEASE


def billed_seconds(duration_seconds: float) -> int:
    """Whole seconds billed for an output this long: every started second counts, at least one."""
    # Rounded to the millisecond first so 10.000000001 s of float noise is not an 11th second.
    return max(1, math.ceil(round(duration_seconds, 3)))


def cost_of(duration_seconds: float, price_per_second: Decimal) -> Decimal:
    return price_per_second * billed_seconds(duration_seconds)


def money_str(amount: Decimal) -> str:
    """Decimal string with at least two places and never an exponent: ``9.84`` -> ``"9.84"``,
    ``5`` -> ``"5.00"``, ``0.000001`` -> ``"0.000001"``."""
    cents = amount.quantize(CENT)
    return f"{cents:f}" if amount == cents else f"{amount.normalize():f}"


@dataclass(slots=True, kw_only=True)
class LedgerEntry:
    """One movement of a wallet's money. Not changed once written; not frozen, as every job
    writes two and a frozen dataclass costs several times as much to make."""

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LedgerEntry:
        """An entry from its :meth:`to_dict` form (as a store keeps it)."""
        return cls(
            movement=Movement(data["movement"]),
            amount=Decimal(data["amount"]),
            balance_after=Decimal(data["balance_after"]),
            held_after=Decimal(data["held_after"]),
            at=data["at"],
            request_id=data["request_id"],
            note=data["note"],
        )


_ZERO = Decimal(0)


@dataclass(slots=True)
class WalletState:
    """A key's money: ``held`` is the running sum of its open holds (never summed on read)."""

    key: str
    balance: Decimal
    held: Decimal = Decimal(0)
    charged: Decimal = Decimal(0)  # the running sum of every charge (for metrics)
    ledger_size: int = 0  # entries ever written (a store keeps a bounded tail of them)

    @property
    def available(self) -> Decimal:
        """What new jobs can hold: never below zero, even when the operator has set a balance
        below what is already held."""
        free = self.balance - self.held
        return free if free > _ZERO else _ZERO

    def can_cover(self, amount: Decimal) -> bool:
        return self.available >= amount

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "balance": money_str(self.balance),
            "held": money_str(self.held),
            "available": money_str(self.available),
        }


# The rules of money, one function per movement: each changes the state and returns its ledger
# entry. Every store applies them (in one step), so every backend moves money the same way.


def _entry(
    state: WalletState, movement: Movement, amount: Decimal, at: float, rid: str | None, note: str
) -> LedgerEntry:
    return LedgerEntry(
        movement=movement,
        amount=amount,
        balance_after=state.balance,
        held_after=state.held,
        at=at,
        request_id=rid,
        note=note,
    )


def set_entry(state: WalletState, amount: Decimal, at: float, note: str = "") -> LedgerEntry:
    """The operator (or the configuration) sets the balance; holds stay as they are."""
    state.balance = amount
    return _entry(state, _SET, amount, at, None, note)


def hold_entry(
    state: WalletState, request_id: str, amount: Decimal, at: float
) -> LedgerEntry | None:
    """Hold ``amount`` for a job when ``available`` covers it; None (nothing held) when not."""
    if not state.can_cover(amount):
        return None
    state.held += amount
    return _entry(state, _HOLD, amount, at, request_id, "")


def capture_entry(state: WalletState, request_id: str, held: Decimal, at: float) -> LedgerEntry:
    """Charge a job what it held, but never more than the balance (which the operator may have
    lowered under the hold): the balance never goes negative. The entry's amount is the charge."""
    balance = state.balance  # min(held, max(0, balance)), without making a zero each time
    amount = held if held <= balance else balance if balance > _ZERO else _ZERO
    state.balance -= amount
    state.held -= held
    state.charged += amount
    note = "" if amount == held else f"held {money_str(held)}; capped at the balance"
    return _entry(state, _CHARGE, amount, at, request_id, note)


def release_entry(
    state: WalletState, request_id: str, held: Decimal, at: float, note: str = ""
) -> LedgerEntry:
    state.held -= held
    return _entry(state, _RELEASE, held, at, request_id, note)
