"""Making the configured store."""

from __future__ import annotations

from ._config import Backend, StateConfig
from ._memory import MemoryStore
from ._protocol import Store


def make_store(
    state: StateConfig,
    *,
    journal_enabled: bool = True,
    journal_max_entries: int = 10_000,
    journal_max_bytes: int = 64 * 1024 * 1024,
    journal_max_body_bytes: int = 16 * 1024,
) -> Store:
    """The store ``state`` names, not yet opened (``await store.open()``)."""
    if state.backend is Backend.SQLITE:
        from ._sqlite import SqliteStore  # only a SQLite gateway loads it (start-up cost)

        assert state.path is not None
        return SqliteStore(
            state.path,
            state.retention,
            journal_enabled=journal_enabled,
            journal_max_entries=journal_max_entries,
            journal_max_bytes=journal_max_bytes,
            journal_max_body_bytes=journal_max_body_bytes,
        )
    if state.backend is Backend.REDIS:
        from ._redis import RedisStore  # only a Redis gateway loads redis-py (start-up cost)

        assert state.url is not None
        return RedisStore(
            state.url,
            state.retention,
            journal_enabled=journal_enabled,
            journal_max_entries=journal_max_entries,
            journal_max_bytes=journal_max_bytes,
            journal_max_body_bytes=journal_max_body_bytes,
        )
    return MemoryStore(
        state.retention,
        journal_enabled=journal_enabled,
        journal_max_entries=journal_max_entries,
        journal_max_bytes=journal_max_bytes,
        journal_max_body_bytes=journal_max_body_bytes,
    )
