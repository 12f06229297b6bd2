"""A state store that refuses writes for a while. Redis: full (``maxmemory`` under
``noeviction``, a common setting), read-only (a primary a failover demoted to a replica) or short
of replicas (``min-replicas-to-write``); SQLite: a file that cannot be written.

Every request that writes answers the documented 503 naming why (on Redis it answered 500,
inviting a retry), health says so at once (it said ``ok``, or answered after a second), an
advance leaves the clock where it stood, timed work says once that it waits (it logged a
traceback on every look), work claimed as Redis filled up is given back once it takes writes
again, a full Redis is emptied through reset, journal entries lost meanwhile are counted, and once
the store takes writes again every acknowledged job ends, charged once, with nothing held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from mockgateway import ManualClock
from mockgateway._config import config_from_mapping
from mockgateway.store._sqlite import SqliteStore

from .redis_server import RedisServer, free_port, redis_server
from .store_support import sqlite_writable
from .support import KEY, Answer, Client, manual_config, served

START = 1_774_951_200.0


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@contextlib.asynccontextmanager
async def _admin(server: RedisServer) -> AsyncIterator[Redis]:
    """A client to make the server refuse writes and take them again (whatever the test did)."""
    client = Redis.from_url(server.url)
    await client.flushall()
    try:
        yield client
    finally:
        await client.config_set("maxmemory", 0)
        await client.config_set("min-replicas-to-write", 0)
        await client.execute_command("REPLICAOF", "NO", "ONE")
        await client.aclose()


async def _full(admin: Redis) -> Callable[[], Awaitable[object]]:
    await admin.config_set("maxmemory-policy", "noeviction")
    await admin.config_set("maxmemory", 1)  # less than it holds already: every write refused

    async def undo() -> object:
        return await admin.config_set("maxmemory", 0)

    return undo


async def _read_only(admin: Redis) -> Callable[[], Awaitable[object]]:
    # a replica of a primary that is not there: it keeps its data, serves reads, refuses writes
    await admin.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))

    async def undo() -> object:
        return await admin.execute_command("REPLICAOF", "NO", "ONE")

    return undo


async def _short_of_replicas(admin: Redis) -> Callable[[], Awaitable[object]]:
    await admin.config_set("min-replicas-to-write", 1)  # and it has none

    async def undo() -> object:
        return await admin.config_set("min-replicas-to-write", 0)

    return undo


REFUSALS = {"OOM": _full, "READONLY": _read_only, "NOREPLICAS": _short_of_replicas}


async def _until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def _refused(answer: Answer, code: str) -> None:
    assert answer.status == 503, (answer.method, answer.path, answer.status, answer.raw)
    assert answer.body["error"] == "Service Unavailable"
    message = answer.body["message"]
    assert message.startswith("The service is temporarily unavailable: its state store"), message
    assert f"Redis refuses writes for now: {code}" in message, message


async def _clock(client: Client) -> float:
    now: float = (await client.admin("GET", "clock"))["now"]
    return now


@pytest.mark.parametrize("code", list(REFUSALS))
async def test_a_redis_refusing_writes_answers_503_and_loses_nothing(
    code: str, server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    config = manual_config(state={"backend": "redis", "url": server.url})
    caplog.set_level(logging.INFO, logger="mockgateway")
    async with (
        _admin(server) as admin,
        served(config, clock=ManualClock(START)) as (_gw, client),
    ):
        ids = [(await client.generate()).body["request_id"] for _ in range(3)]
        undo = await REFUSALS[code](admin)

        started = time.monotonic()
        health = await client.request("GET", "/_mock/health", key=None)
        assert time.monotonic() - started < 1.0
        _refused(health, code)
        _refused(await client.generate(), code)
        _refused(await client.status(ids[0]), code)  # a poll counts itself on its job
        before = await _clock(client)
        _refused(await client.request("POST", "/_mock/clock/advance", body={"seconds": 10}), code)
        assert await _clock(client) == before  # the refused advance did not move it
        await undo()
        assert (await client.request("GET", "/_mock/health", key=None)).status == 200
        await client.admin("POST", "clock/advance", {"seconds": 10})
        assert [(await client.status(i)).body["status"] for i in ids] == ["COMPLETED"] * 3
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["held"] == "0.00"
        charges = [e for e in wallet["ledger"] if e["movement"] == "charge"]
        assert sorted(e["request_id"] for e in charges) == sorted(ids)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]


async def test_timed_work_waits_for_a_full_redis_saying_so_once(
    server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """On the real clock: work falling due while Redis is full waits, with one warning (not a
    traceback on every look), and runs once Redis takes writes again."""
    lifecycle = {"queue_seconds": 0.3, "processing_seconds": 0.1}
    config = config_from_mapping(
        {"state": {"backend": "redis", "url": server.url}, "lifecycle": lifecycle}
    )
    caplog.set_level(logging.INFO, logger="mockgateway")
    async with _admin(server) as admin, served(config) as (_gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(3)]
        undo = await _full(admin)
        await _until(lambda: "timed work waits for the state store" in caplog.text, 5)
        await asyncio.sleep(0.3)  # the runner looks every 50 ms on a shared store: all refused
        waits = [r for r in caplog.records if "waits for the state store" in r.getMessage()]
        assert len(waits) == 1
        assert "Redis refuses writes for now: OOM" in waits[0].getMessage()
        await undo()
        await _until(lambda: "the state store serves again" in caplog.text, 5)
        for request_id in ids:
            for _ in range(200):
                answer = await client.status(request_id)
                if answer.body["status"] == "COMPLETED":
                    break
                await asyncio.sleep(0.02)
            assert answer.body["status"] == "COMPLETED", answer.body
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["held"] == "0.00"
        assert sorted(
            e["request_id"] for e in wallet["ledger"] if e["movement"] == "charge"
        ) == sorted(ids)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]


async def test_work_claimed_as_redis_filled_up_runs_once_it_takes_writes_again(
    server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis filling up between a claim and its work: the claim cannot be given back then, so it
    is given back once Redis takes writes again, and runs at once; before, it waited out its
    30 s lease."""
    config = manual_config(state={"backend": "redis", "url": server.url})
    async with _admin(server) as admin, served(config, clock=ManualClock(START)) as (gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(2)]
        lifecycle = gw.gateway.lifecycle
        run_task = lifecycle.run_task
        undo: list[Callable[[], Awaitable[object]]] = []

        async def fills_up_first(task: object) -> None:
            if not undo:
                undo.append(await _full(admin))  # claimed already: now Redis is full
            await run_task(task)  # type: ignore[arg-type]

        monkeypatch.setattr(lifecycle, "run_task", fills_up_first)
        refused = await client.request("POST", "/_mock/clock/advance", body={"seconds": 10})
        _refused(refused, "OOM")
        await undo[0]()
        await client.admin("POST", "clock/advance", {"seconds": 10})
        assert [(await client.status(i)).body["status"] for i in ids] == ["COMPLETED"] * 2


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_journal_entries_lost_while_the_store_refused_writes_count_as_dropped(
    backend: str, server: RedisServer, tmp_path: Path
) -> None:
    """Every request journaled is kept or counted in ``dropped``: the entries a store could not
    take (a state file that cannot be written; a Redis full for longer than the writer's queue
    holds) were in neither."""
    if backend == "sqlite":
        state: dict[str, str] = {"backend": "sqlite", "path": str(tmp_path / "state.db")}
    else:
        state = {"backend": "redis", "url": server.url}
    config = manual_config(state=state, journal={"max_entries": 4})
    async with _admin(server) as admin, served(config, clock=ManualClock(START)) as (gw, client):
        made = 0
        for _ in range(2):
            assert (await client.generate()).status == 202
            made += 1
        store = gw.gateway.store
        if isinstance(store, SqliteStore):
            sqlite_writable(store, False)
        else:
            undo = await _full(admin)
        for _ in range(8):  # each journaled, none storable
            assert (await client.generate()).status == 503
            made += 1
        if isinstance(store, SqliteStore):
            sqlite_writable(store, True)
        else:
            await undo()
        health = await client.request("GET", "/_mock/health", key=None)
        assert health.status == 200, health.body
        journal = health.body["journal"]
        assert journal["entries"] + journal["dropped"] == made, journal
        assert journal["entries"] <= 4


async def test_a_full_redis_is_emptied_through_reset(server: RedisServer) -> None:
    """Full at its maxmemory: the gateway's reset still runs (its scripts only free) and makes
    room, and the gateway takes jobs again."""
    config = manual_config(state={"backend": "redis", "url": server.url})
    async with _admin(server) as admin, served(config, clock=ManualClock(START)) as (_gw, client):
        await admin.config_set("maxmemory-policy", "noeviction")
        # Warm first: the scripts a submit and a reset load, and the clients' buffers, stay in
        # Redis's memory after a reset; measured before them, the limit left no room once reset.
        assert (await client.generate()).status == 202
        assert (await client.request("POST", "/_mock/reset", key=None)).status == 200
        used = int((await admin.info("memory"))["used_memory"])
        await admin.config_set("maxmemory", used + (1 << 20))
        for _ in range(5000):  # each job and its journal entries take a few KiB
            answer = await client.generate()
            if answer.status != 202:
                break
        _refused(answer, "OOM")
        reset = await client.request("POST", "/_mock/reset", key=None)
        assert reset.status == 200, reset.body
        assert (await client.generate()).status == 202
        health = await client.request("GET", "/_mock/health", key=None)
        assert health.status == 200, health.body
        assert health.body["jobs"] == 1
