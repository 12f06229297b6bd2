"""A model's limit on its output's length, per resolution, and the refusal that names it.

The table is the model's ``max_seconds``: ``(resolution, seconds)`` pairs, ``""`` for any
resolution. A length at or over the limit is refused with a message naming the field the length
came from, and suggesting the resolutions that allow longer, in table order.
"""

from __future__ import annotations

from ._types import InputRejected

Limits = tuple[tuple[str, float], ...]

OMNIHUMAN_MAX_SECONDS: Limits = (("1080p", 30.0), ("720p", 60.0), ("480p", 60.0))


def limit_at(limits: Limits, resolution: str | None) -> tuple[str, float] | None:
    """The entry of ``limits`` that applies at ``resolution`` (its own, else ``""``'s)."""
    table = dict(limits)
    if resolution is not None and resolution in table:
        return resolution, table[resolution]
    if "" in table:
        return "", table[""]
    return None


def _longer(limits: Limits, limit: float) -> str:
    """``, or resolution 720p or 480p for up to 60 s``: the resolutions allowing longer, grouped
    by their limit, in table order."""
    groups: dict[float, list[str]] = {}
    for resolution, seconds in limits:
        if resolution and seconds > limit:
            groups.setdefault(seconds, []).append(resolution)
    if not groups:
        return ""
    parts = [f"{' or '.join(names)} for up to {seconds:g} s" for seconds, names in groups.items()]
    return ", or resolution " + ", or ".join(parts)


def check_length(
    field: str | None,
    seconds: float,
    resolution: str | None,
    limits: Limits,
    what: str,
    *,
    requested: bool = False,
) -> None:
    """Refuse ``seconds`` of output at or over the limit at ``resolution``.

    ``field`` is the input the length was measured from, or with ``requested`` the body field
    that asked for it (None: unknown); ``what`` the kind of that length ("audio", "video").
    """
    found = limit_at(limits, resolution)
    if found is None:
        return
    where, limit = found
    if seconds < limit:
        return
    shown = f"{seconds:.1f}"
    if seconds > limit and float(shown) <= limit:  # 30.04 s must not print as "30.0 s"
        shown = f"{seconds:.3f}".rstrip("0")
    at = f" at {where}" if where else ""
    use = "ask for less than" if requested or field is None else f"use {what} shorter than"
    prefix = f"{field}: " if field is not None else ""
    raise InputRejected(
        f"{prefix}{shown} s of {what} exceeds the {limit:g} s limit{at}"
        f" ({use} {limit:g} s" + (_longer(limits, limit) if where else "") + ")"
    )
