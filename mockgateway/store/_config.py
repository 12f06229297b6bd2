"""Where state lives (``[state]``) and how long finished work is kept (``[retention]``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .._reader import Reader
from ._types import Retention


class Backend(StrEnum):
    MEMORY = "memory"
    SQLITE = "sqlite"
    REDIS = "redis"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateConfig:
    """``memory`` (default): this process, forgotten on exit. ``sqlite``: the file at ``path``,
    surviving restarts and SIGKILL. ``redis``: the server at ``url``, shared by replicas."""

    backend: Backend = Backend.MEMORY
    path: str | None = None
    url: str | None = None
    retention: Retention = field(default_factory=Retention)

    @property
    def setting(self) -> str:
        """The setting a user fixes when this store cannot be opened."""
        if self.backend is Backend.SQLITE:
            return "state.path"
        if self.backend is Backend.REDIS:
            return "state.url"
        return "state.backend"


def state_from_option(value: str, retention: Retention) -> StateConfig:
    """``serve --state``: ``memory``, a ``redis://`` or ``rediss://`` URL, or a SQLite path."""
    if value == "memory":
        return StateConfig(retention=retention)
    if value.startswith(("redis://", "rediss://", "unix://")):
        return StateConfig(backend=Backend.REDIS, url=value, retention=retention)
    return StateConfig(backend=Backend.SQLITE, path=value, retention=retention)


def read_state(state: Reader, retention: Reader) -> StateConfig:
    default = Retention()
    kept = Retention(
        max_jobs=retention.integer("max_jobs", default.max_jobs, minimum=1, maximum=10**7),
        max_age_seconds=retention.number(
            "max_age_seconds", default.max_age_seconds, minimum=1.0, maximum=1e9
        ),
        max_media_bytes=retention.integer(
            "max_media_bytes", default.max_media_bytes, minimum=0, maximum=2**40
        ),
        max_ledger_entries=retention.integer(
            "max_ledger_entries", default.max_ledger_entries, minimum=1, maximum=10**7
        ),
    )
    retention.finish()
    backend = state.choice("backend", Backend, Backend.MEMORY)
    path = state.get("path", str, "") or None
    url = state.get("url", str, "") or None
    state.finish()
    if backend is Backend.SQLITE and path is None:
        raise state.error("path", 'the sqlite backend needs a path, e.g. path = "mockgateway.db"')
    if backend is Backend.REDIS and url is None:
        raise state.error(
            "url", 'the redis backend needs a url, e.g. url = "redis://127.0.0.1:6379/0"'
        )
    return StateConfig(backend=backend, path=path, url=url, retention=kept)
