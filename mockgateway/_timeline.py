"""Timed work: written to the store, and whoever runs it (the gateway's runner) told when it is
due, so work due sooner than the runner expected is not left waiting."""

from __future__ import annotations

from collections.abc import Callable

from .store import Store, TaskKind


class Timeline:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._listeners: list[Callable[[float], None]] = []

    def on_scheduled(self, listener: Callable[[float], None]) -> None:
        """Call ``listener(due)`` with the gateway time of each task scheduled."""
        self._listeners.append(listener)

    async def at(self, due: float, kind: TaskKind, ref: str) -> None:
        """Do ``kind`` about ``ref`` at gateway time ``due``."""
        await self.store.schedule(due, kind, ref)
        for listener in self._listeners:
            listener(due)
