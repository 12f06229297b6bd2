"""Making and reopening a store of each backend for the contract suite, and values to store."""

from __future__ import annotations

import contextlib
import importlib.util
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mockgateway._jobs import Job, Status
from mockgateway._journal import JournalEntry
from mockgateway.faults import EndJob, JobPlan
from mockgateway.store import MemoryStore, Retention, Store
from mockgateway.store._sqlite import SqliteStore

HAVE_REDIS_STORE = importlib.util.find_spec("mockgateway.store._redis") is not None

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param(
        "redis",
        marks=pytest.mark.skipif(
            not HAVE_REDIS_STORE, reason="mockgateway/store/_redis.py is not written yet"
        ),
    ),
]


def flush_redis(url: str) -> None:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(b"FLUSHALL\r\n")
        assert s.recv(16).startswith(b"+OK")


@dataclass
class Backend:
    """One backend under test: ``store()`` opens a fresh one, ``store(fresh=False)`` reopens the
    last one's state (a new process would see the same)."""

    name: str
    tmp: Path
    redis_url: str | None = None
    made: int = 0
    memory: MemoryStore | None = field(default=None, repr=False)

    @property
    def durable(self) -> bool:
        return self.name != "memory"

    def make(self, retention: Retention | None = None, **journal: Any) -> Store:
        retention = retention or Retention()
        if self.name == "memory":
            return MemoryStore(retention, **journal)
        if self.name == "sqlite":
            return SqliteStore(str(self.tmp / f"state-{self.made}.db"), retention, **journal)
        assert self.redis_url is not None
        redis_store: Any = importlib.import_module("mockgateway.store._redis").RedisStore
        store: Store = redis_store(self.redis_url, retention, **journal)
        return store

    @contextlib.asynccontextmanager
    async def store(
        self, retention: Retention | None = None, *, fresh: bool = True, **journal: Any
    ) -> AsyncIterator[Store]:
        if fresh:
            self.made += 1
            if self.redis_url is not None:
                flush_redis(self.redis_url)
        if self.name == "memory" and not fresh and self.memory is not None:
            store: Store = self.memory  # nothing to reopen: the same process's memory
        else:
            store = self.make(retention, **journal)
        await store.open()
        try:
            yield store
        finally:
            await store.close()
            if isinstance(store, MemoryStore):
                self.memory = store


PLAN = JobPlan(
    queue_seconds=1.5,
    processing_seconds=4.0,
    end=EndJob(status="FAILED", at="PROCESSING", message="planned failure"),
    scenario="flaky",
    fired=("rule-1",),
)


def sqlite_writable(store: object, yes: bool) -> None:
    """Let a SQLite store's file take writes, or refuse them as a full disk would (SQLite's
    ``query_only``: every write fails with "attempt to write a readonly database")."""
    assert isinstance(store, SqliteStore)
    conn = store._db.conn
    assert conn is not None
    conn.execute(f"PRAGMA query_only = {'OFF' if yes else 'ON'}")


def make_job(n: int, key: str = "key-a", at: float = 0.0, **fields: Any) -> Job:
    return Job(
        request_id=f"req-{n:05d}",
        model_id="bytedance-omnihuman-v1-5-290",
        key=key,
        inputs=(
            ("image_url", "https://example.test/face.png"),
            ("audio_url", "https://example.test/voice.wav"),
        ),
        resolution="720p",
        created_at=at,
        updated_at=at,
        **fields,
    )


def end(job: Job, at: float, status: Status = Status.COMPLETED) -> Job:
    if job.status is Status.QUEUED:
        job.move(Status.PROCESSING, at)
    job.move(status, at)
    return job


def entry(seq: int, path: str, note: str = "") -> JournalEntry:
    """A journal builder: ``journal_append(entry, path, note)``."""
    return JournalEntry(
        seq=seq,
        kind="request",
        route="status",
        method="GET",
        url=f"http://127.0.0.1{path}",
        path=path,
        headers={"Host": "127.0.0.1"},
        status=200,
        notes=(note,) if note else (),
    )
