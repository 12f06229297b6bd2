"""A bounded memo: values worked out once and kept, forgotten all at once when full.

The hot path remembers small things it would otherwise work out again for every request (a
host's policy verdict, a model's plan, a parsed body). Their keys come from a small set in normal
use, but a client can make up new ones, so each memo holds at most ``limit`` entries: when full,
the next one kept clears it first (simpler and cheaper than LRU for sets that rarely overflow).
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Memo(dict[K, V]):
    """A dict (reads are plain dict reads) whose :meth:`keep` bounds it to ``limit`` entries."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def keep(self, key: K, value: V) -> V:
        """Remember ``value`` for ``key`` (clearing the memo first when full); return it."""
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


__all__ = ["Memo"]
