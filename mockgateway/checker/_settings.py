"""Thresholds the rules apply, as one frozen value; all times are seconds of gateway time.

Defaults follow the documentation where it gives a number (poll every 5 to 10 s) and are our
recommendation elsewhere. Severity overrides and disabled rules let a project tune a check
without editing rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from .._errors import ConfigError
from ._model import Severity


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckerSettings:
    """What the rules measure against.

    ``min_poll_interval`` is the documented 5 s; ``tolerance`` absorbs the timer jitter of a
    client whose sleeps are compressed by a scaled clock, in every timing rule. A retry after a
    server error must wait ``min_retry_delay``, and each further one ``backoff_factor`` times the
    wait required before it, up to ``backoff_cap``. A webhook receiver must answer within
    ``webhook_answer_within``.
    """

    min_poll_interval: float = 5.0
    tolerance: float = 0.1
    min_retry_delay: float = 1.0
    backoff_factor: float = 1.5
    backoff_cap: float = 10.0
    webhook_answer_within: float = 5.0
    duplicate_window: float = 60.0
    severities: Mapping[str, Severity] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()

    def with_(self, **changes: Any) -> CheckerSettings:
        return replace(self, **changes)

    def at_speed(self, speed: float) -> CheckerSettings:
        """Settings for a journal recorded under a clock running ``speed`` times fast.

        Every rule about the client's own pacing stays on gateway time. The one exception is
        how fast a webhook receiver answers: that is network and server latency in real time,
        so its budget is stretched by the speed rather than shrunk.
        """
        if speed == 1.0:
            return self
        return replace(self, webhook_answer_within=self.webhook_answer_within * speed)


_NUMBERS = frozenset(
    f.name for f in fields(CheckerSettings) if f.name not in ("severities", "disabled")
)


def settings_from_mapping(
    data: Mapping[str, Any], *, source: str = "<mapping>", known_rules: frozenset[str]
) -> CheckerSettings:
    """Read a ``[checker]`` table: numbers, ``disable = [ids]`` and ``[checker.severity]``."""
    values: dict[str, Any] = {}
    for key, raw in data.items():
        name = f"checker.{key}"
        if key in _NUMBERS:
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
                raise ConfigError(
                    f"expected a non-negative number, got {raw!r}", key=name, source=source
                )
            values[key] = float(raw)
        elif key == "disable":
            if not isinstance(raw, list) or not all(isinstance(r, str) for r in raw):
                raise ConfigError("expected an array of rule ids", key=name, source=source)
            unknown = sorted(set(raw) - known_rules)
            if unknown:
                raise ConfigError(
                    f"unknown rule id(s): {', '.join(unknown)}", key=name, source=source
                )
            values["disabled"] = frozenset(raw)
        elif key == "severity":
            if not isinstance(raw, Mapping):
                raise ConfigError("expected a table of rule id = severity", key=name, source=source)
            severities: dict[str, Severity] = {}
            for rule_id, level in raw.items():
                if rule_id not in known_rules:
                    raise ConfigError("unknown rule id", key=f"{name}.{rule_id}", source=source)
                try:
                    severities[rule_id] = Severity(level)
                except ValueError:
                    raise ConfigError(
                        f"must be 'error', 'warning' or 'info', got {level!r}",
                        key=f"{name}.{rule_id}",
                        source=source,
                    ) from None
            values["severities"] = severities
        else:
            raise ConfigError("unknown key", key=name, source=source)
    return CheckerSettings(**values)
