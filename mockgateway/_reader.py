"""Reading configuration tables: one :class:`Reader` per TOML table checks each value's type and
range and names the key and the file in every error, and refuses keys nobody read.

Shared by the gateway's configuration, the fault scenario and the media settings, each of which
reads its own sections with it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from ._billing import parse_money
from ._errors import ConfigError

T = TypeVar("T")

MAX_NUMBER = 1e9  # the largest number any setting takes unless it says less


class Reader:
    """Reads one TOML table, checking types, and remembers which keys were used."""

    def __init__(self, table: Mapping[str, Any], prefix: str, source: str) -> None:
        if not isinstance(table, Mapping):
            raise ConfigError("expected a table", key=prefix, source=source)
        self.table = table
        self.prefix = prefix
        self.source = source
        self.used: set[str] = set()

    def _name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, key=self._name(key), source=self.source)

    def get(self, key: str, kind: type[T] | tuple[type, ...], default: T) -> T:
        self.used.add(key)
        if key not in self.table:
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(key, f"expected {_kind_names(kinds)}, got {value!r}")
        if not isinstance(value, kinds):
            raise self.error(key, f"expected {_kind_names(kinds)}, got {value!r}")
        return value  # type: ignore[return-value]

    def number(
        self, key: str, default: float, *, minimum: float = 0.0, maximum: float = MAX_NUMBER
    ) -> float:
        """A finite number from ``minimum`` to ``maximum``: NaN, infinities and numbers too large
        for a float are refused, so every value read can be computed with and shown as JSON."""
        raw = self.get(key, (int, float), default)
        try:
            value = float(raw)
        except OverflowError:
            value = math.inf
        if not math.isfinite(value):
            shown = raw if isinstance(raw, float) else "a number too large"
            raise self.error(
                key, f"must be a finite number from {minimum:g} to {maximum:g}, got {shown}"
            )
        if value < minimum:
            raise self.error(key, f"must be at least {minimum:g}, got {value:g}")
        if value > maximum:
            raise self.error(key, f"must be at most {maximum:g}, got {value:g}")
        return value

    def integer(
        self, key: str, default: int, *, minimum: int = 0, maximum: int | None = None
    ) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            shown = value if value < 10**30 else "a larger integer"
            raise self.error(key, f"must be at most {maximum:,}, got {shown}")
        return value

    def money(self, key: str, default: Decimal) -> Decimal:
        raw = self.get(key, (str, int, float), str(default))
        try:
            value = parse_money(raw)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None
        return value

    def choice(self, key: str, enum: type[Enum], default: Enum) -> Any:
        raw = self.get(key, str, default.value)
        try:
            return enum(raw)
        except ValueError:
            options = ", ".join(repr(m.value) for m in enum)
            raise self.error(key, f"must be one of {options}, got {raw!r}") from None

    def sub(self, key: str) -> Reader:
        self.used.add(key)
        return Reader(self.table.get(key, {}), self._name(key), self.source)

    def tables(self, key: str) -> list[Reader]:
        self.used.add(key)
        rows = self.table.get(key, [])
        if not isinstance(rows, list):
            raise self.error(key, "expected an array of tables ([[...]])")
        return [Reader(row, f"{self._name(key)}[{i}]", self.source) for i, row in enumerate(rows)]

    def finish(self, known_extra: frozenset[str] = frozenset()) -> None:
        for key in self.table:
            if key not in self.used and key not in known_extra:
                raise self.error(key, "unknown key")


def _kind_names(kinds: tuple[type, ...]) -> str:
    names = {
        int: "an integer",
        float: "a number",
        str: "a string",
        bool: "true or false",
        list: "an array",
        dict: "a table",
    }
    return " or ".join(names.get(k, k.__name__) for k in kinds)
