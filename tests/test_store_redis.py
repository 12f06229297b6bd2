"""The Redis store over a real ``redis-server``: what several replicas sharing one server rely on.

Each test opens two or more :class:`RedisStore` instances (separate connections, as separate
replicas have) on one server, under a prefix of its own; two tests run real processes. The rules
every backend keeps are the store contract suite's; these are the cross-process ones: steps exclude
each other everywhere and apply whole or not at all, holds never overdraw, each task goes to one
claimer and comes back after its lease, the journal is one order, events reach the others, and the
store answers StoreUnavailable while Redis is away and recovers by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import (
    ExecAbortError,
    NoPermissionError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
)

from mockgateway._jobs import Job, Status
from mockgateway._journal import JournalEntry
from mockgateway.media import RenderedMedia
from mockgateway.store import (
    LAYOUT_VERSION,
    DeliveryRecord,
    MemoryStore,
    Page,
    Retention,
    StoreError,
    StoreUnavailable,
    Task,
    TaskKind,
)
from mockgateway.store._redis import RedisStore, shown_url, supported_version
from mockgateway.store._redis_errors import refusal, unavailable
from tests.redis_server import RedisServer, free_port, redis_server, start_redis

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with redis_server() as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return f"t{os.urandom(6).hex()}:"


@contextlib.asynccontextmanager
async def opened(url: str, prefix: str, **options: Any) -> AsyncIterator[RedisStore]:
    store = RedisStore(url, prefix=prefix, **options)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def replicas(
    url: str, prefix: str, count: int = 2, **options: Any
) -> AsyncIterator[list[RedisStore]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(opened(url, prefix, **options)) for _ in range(count)
        ]


def child_command(server: RedisServer, prefix: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "tests.redis_store_child", server.url, prefix, *args]


def a_job(n: int, key: str = "team") -> Job:
    return Job(
        request_id=f"req-{n}",
        model_id="omnihuman-1.5",
        key=key,
        inputs=(
            ("image_url", "https://example.test/a.png"),
            ("audio_url", "https://example.test/a.mp3"),
        ),
        resolution="720p",
        created_at=float(n),
        updated_at=float(n),
    )


def an_entry(seq: int, who: str, n: int) -> JournalEntry:
    return JournalEntry(
        seq=seq,
        kind="request",
        route="status",
        method="GET",
        url=f"http://127.0.0.1/v1/{who}/{n}",
        path=f"/v1/{who}/{n}",
        headers={"Ocp-Apim-Subscription-Key": "****abcd"},
        body={"who": who, "n": n},
    )


async def until(check: Any, seconds: float) -> Any:
    """Ask ``check()`` until it answers truthy, for at most ``seconds`` of real time."""
    deadline = time.monotonic() + seconds
    while True:
        answer = await check()
        if answer or time.monotonic() > deadline:
            return answer
        await asyncio.sleep(0.02)


# opening ----------------------------------------------------------------------------------------


async def test_redis_unreachable_at_open_names_the_setting() -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        await RedisStore(url).open()
    assert caught.value.setting == "state.url"
    assert str(caught.value).startswith(f"state.url: cannot reach Redis at {url}")
    assert time.monotonic() - started < 5


async def test_a_url_that_is_not_redis_is_refused_naming_the_setting() -> None:
    with pytest.raises(StoreError, match=r"^state\.url: .* is not a Redis URL"):
        await RedisStore("http://127.0.0.1:6379/0").open()


@pytest.mark.parametrize("path", ["/abc", "/O", "/1/2", "/-1", "/0%20"])
async def test_a_url_whose_database_is_not_a_number_is_refused(path: str) -> None:
    # redis-py reads such a path as database 0: another team's state, shared without a word
    url = f"redis://127.0.0.1:{free_port()}{path}"
    with pytest.raises(StoreError, match=r"^state\.url: .* is not a database number") as caught:
        await RedisStore(url).open()
    assert repr(path.replace("%20", " ")) in str(caught.value)


@pytest.mark.parametrize(
    ("version", "runs"),
    [
        *[("7.0.15", True), ("7.2.4", True), ("8.0.2", True), ("10.1", True)],
        *[("6.2.14", False), ("5.0.7", False), ("", False), ("unknown", False)],
    ],
)
def test_only_a_redis_that_runs_flagged_scripts_is_supported(version: str, runs: bool) -> None:
    assert supported_version(version) is runs


async def test_a_redis_older_than_7_is_refused_naming_the_setting(prefix: str) -> None:
    """Redis 6 cannot run scripts that declare their flags: every call would fail. A loopback
    server answering as Redis 6.2 does stands in for one (Debian ships 7)."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                count = int((await reader.readline())[1:])
                words = []
                for _ in range(count):
                    size = int((await reader.readline())[1:])
                    words.append((await reader.readexactly(size + 2))[:-2].upper())
                if words[0] == b"PING":
                    writer.write(b"+PONG\r\n")
                elif words[0] == b"INFO":
                    info = b"# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n"
                    writer.write(b"$%d\r\n%s\r\n" % (len(info), info))
                else:
                    writer.write(b"+OK\r\n")
                await writer.drain()
        writer.close()

    old = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = old.sockets[0].getsockname()[1]
    async with old:
        store = RedisStore(f"redis://127.0.0.1:{port}/0", prefix=prefix)
        with pytest.raises(StoreError) as refused:
            await store.open()
    assert refused.value.setting == "state.url"
    assert "is version 6.2.14; mockgateway needs Redis 7.0 or later" in str(refused.value)


async def test_an_acl_user_is_told_which_command_it_lacks(server: RedisServer, prefix: str) -> None:
    admin = Redis.from_url(server.url)
    try:
        # INFO forbidden: the version goes unchecked, the store opens
        await admin.execute_command("ACL", "SETUSER", "noinfo", "on", ">pw", "~*", "&*", "+@all")
        await admin.execute_command("ACL", "SETUSER", "noinfo", "-info")
        await admin.execute_command("ACL", "SETUSER", "noset", "on", ">pw", "~*", "&*", "+@all")
        await admin.execute_command("ACL", "SETUSER", "noset", "-set")
        async with opened(f"redis://noinfo:pw@127.0.0.1:{server.port}/0", prefix) as store:
            await store.check_writes()
        store = RedisStore(f"redis://noset:pw@127.0.0.1:{server.port}/0", prefix=prefix + "b")
        with pytest.raises(StoreError) as refused:
            await store.open()
        assert refused.value.setting == "state.url"
        assert "refused a command of mockgateway's" in str(refused.value)
        assert "NOPERM" in str(refused.value) or "no permissions" in str(refused.value)
        assert ":pw@" not in str(refused.value)
    finally:
        await admin.execute_command("ACL", "DELUSER", "noinfo", "noset")
        await admin.aclose()


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (OutOfMemoryError("command not allowed when used memory > 'maxmemory'."), "OOM"),
        (ReadOnlyError("You can't write against a read only replica."), "READONLY"),
        (ExecAbortError("Transaction discarded because of previous errors."), "EXECABORT"),
        (ResponseError("MISCONF Redis is configured to save RDB snapshots, but ..."), "MISCONF"),
        (ResponseError("NOREPLICAS Not enough good replicas to write."), "NOREPLICAS"),
        (ResponseError("BUSY Redis is busy running a script."), "BUSY"),
        (ResponseError("ERR unknown command 'NOPE'"), None),
        (ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"), None),
        (NoPermissionError("this user has no permissions to run the 'set' command"), None),
    ],
)
def test_redis_refusing_writes_is_told_from_a_bug(error: Exception, code: str | None) -> None:
    assert refusal(error) == code
    lost = unavailable(error)
    if code is None:
        assert lost is None  # raised as itself: a 500 and a traceback, as a bug should be
    else:
        assert lost is not None
        assert str(lost).startswith(f"Redis refuses writes for now: {code} ")
        assert f"{code} {code}" not in str(lost)  # the code said once, as Redis said it


@pytest.mark.parametrize(
    ("error", "told"),
    [
        (
            ExecAbortError(
                "Transaction discarded because of: OOM command not allowed when used memory >"
                " 'maxmemory'."
            ),
            "OOM command not allowed when used memory > 'maxmemory'.",
        ),
        (
            ExecAbortError("Transaction discarded because of: READONLY You can't write."),
            "READONLY You can't write.",
        ),
        (
            ExecAbortError("Transaction discarded because of: ERR wrong number of arguments"),
            "EXECABORT Transaction discarded because of: ERR wrong number of arguments",
        ),
    ],
)
def test_a_transaction_discarded_for_a_refusal_is_told_as_that_refusal(
    error: Exception, told: str
) -> None:
    """redis-py 8 raises the EXECABORT of a transaction a full Redis refused where earlier versions
    raised the OOM of its first command: the 503 names the refusal either way."""
    assert str(unavailable(error)) == f"Redis refuses writes for now: {told}"


async def test_a_redis_that_evicts_keys_when_full_is_warned_of(
    server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    admin = Redis.from_url(server.url)
    try:
        await admin.config_set("maxmemory-policy", "allkeys-lru")
        with caplog.at_level(logging.WARNING, logger="mockgateway.store"):
            async with opened(server.url, prefix):
                pass
            assert "evicts keys when it is full (maxmemory-policy allkeys-lru)" in caplog.text
            caplog.clear()
            await admin.config_set("maxmemory-policy", "noeviction")
            async with opened(server.url, prefix):
                pass
            assert "evicts keys" not in caplog.text
    finally:
        await admin.config_set("maxmemory-policy", "noeviction")
        await admin.aclose()


def test_a_password_in_the_url_is_not_shown() -> None:
    assert shown_url("redis://user:s3cret@host:6379/0") == "redis://user:***@host:6379/0"
    assert shown_url("redis://host:6379/0") == "redis://host:6379/0"


async def test_a_database_of_another_layout_is_refused(server: RedisServer, prefix: str) -> None:
    client = Redis.from_url(server.url)
    await client.set(f"{prefix}layout", LAYOUT_VERSION + 1)
    await client.aclose()
    with pytest.raises(StoreError, match=r"layout version '2'.* reads layout version 1 only"):
        await RedisStore(server.url, prefix=prefix).open()


# steps ------------------------------------------------------------------------------------------


async def test_a_step_excludes_steps_of_another_replica(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        inside = asyncio.Event()
        leave = asyncio.Event()
        order: list[str] = []

        async def first() -> None:
            async with a.atomic():
                order.append("a in")
                inside.set()
                await leave.wait()
                await a.set_meta("who", "a")
                order.append("a out")

        async def second() -> None:
            await inside.wait()
            async with b.atomic():
                order.append("b in")
                assert await b.get_meta("who") == "a"  # a's step is committed before b's starts
                await b.set_meta("who", "b")

        tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
        await inside.wait()
        await asyncio.sleep(0.2)  # b has been asking for the lock all this time
        assert order == ["a in"]
        leave.set()
        await asyncio.gather(*tasks)
        assert order == ["a in", "a out", "b in"]
        assert await a.get_meta("who") == "b"


async def test_a_step_applies_all_its_writes_or_none(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        await a.open_wallet("team", Decimal("10"), 0.0, "start")

        async def failing_step() -> None:
            async with a.atomic():
                await a.create_job(a_job(1))
                assert await a.hold("team", "req-1", Decimal("4"), 1.0)
                # the step's own reads see its writes; the other replica sees none of them
                assert (await a.get_job("req-1")) is not None
                assert (await a.get_wallet("team")) is not None
                assert (await a.active_jobs("team")) == 1
                assert (await a.held_for("team", "req-1")) == Decimal("4")
                assert (await b.get_job("req-1")) is None
                assert (await b.held_for("team", "req-1")) is None
                raise RuntimeError("the step fails")

        with pytest.raises(RuntimeError):
            await failing_step()
        for store in (a, b):
            assert await store.get_job("req-1") is None
            assert await store.active_jobs("team") == 0
            wallet = await store.get_wallet("team")
            assert wallet is not None
            assert wallet.held == 0
            assert (await store.ledger("team")).total == 1
        async with a.atomic():  # and the lock was given back
            await a.create_job(a_job(2))
        job = await b.get_job("req-2")
        assert job is not None
        assert job.seq == 2


async def test_a_step_sees_its_own_media_deliveries_and_tasks(
    server: RedisServer, prefix: str
) -> None:
    async with replicas(server.url, prefix) as (a, b):
        video = RenderedMedia.of(b"video")
        delivery = DeliveryRecord("d-1", "req-1", "http://127.0.0.1:9/", {}, "team")
        delivery.outcomes.append({"outcome": "refused"})
        async with a.atomic():
            await a.create_job(a_job(1))
            await a.put_media("req-1", video)
            await a.save_delivery(delivery)
            await a.schedule(7.0, TaskKind.WEBHOOK, "d-1")
            await a.set_meta("scenario", "slow")
            assert await a.get_media("req-1") == video
            assert [d.id for d in await a.deliveries_of("req-1")] == ["d-1"]
            assert await a.get_delivery("d-1") is delivery
            assert await a.delivery_outcomes() == {"refused": 1}
            assert (await a.pending_tasks(), await a.next_due()) == (1, 7.0)
            assert await a.get_meta("scenario") == "slow"
            assert (await b.get_media("req-1"), await b.pending_tasks()) == (None, 0)
        media = await b.get_media("req-1")
        assert media is not None
        assert (media.data, media.etag) == (video.data, video.etag)
        assert [d.to_dict() for d in await b.deliveries_of("req-1")] == [delivery.to_dict()]
        assert await b.delivery_outcomes() == {"refused": 1}
        assert [(t.due, t.ref) for t in await b.claim_due(7.0)] == [(7.0, "d-1")]
        assert await b.get_meta("scenario") == "slow"


async def test_a_replica_killed_mid_step_leaves_nothing_and_frees_the_lock(
    server: RedisServer, prefix: str
) -> None:
    child = await asyncio.create_subprocess_exec(
        *child_command(server, prefix, "die-mid-step"), cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None
        assert await asyncio.wait_for(child.stdout.readline(), 20) == b"in-step\n"
    finally:
        child.kill()
        await asyncio.wait_for(child.wait(), 10)
    async with opened(server.url, prefix, lock_wait_seconds=5.0) as store:
        started = time.monotonic()
        async with store.atomic():  # the dead replica's lock lapses after its lock time (1 s)
            assert await store.get_wallet("doomed") is None
            assert await store.get_meta("half") is None
        assert time.monotonic() - started < 3


async def test_a_lock_held_too_long_by_another_is_unavailable(
    server: RedisServer, prefix: str
) -> None:
    client = Redis.from_url(server.url)
    await client.set(f"{prefix}lock", "someone else", px=10_000)
    await client.aclose()
    async with opened(server.url, prefix, lock_wait_seconds=0.3) as store:
        with pytest.raises(StoreUnavailable, match="held by another replica"):
            async with store.atomic():
                pass


async def test_a_long_step_keeps_its_lock(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix, lock_seconds=0.3, lock_wait_seconds=5.0) as (a, b):
        entered = asyncio.Event()

        async def other() -> None:
            await entered.wait()
            async with b.atomic():
                assert await b.get_meta("slow") == "done"

        task = asyncio.create_task(other())
        async with a.atomic():
            entered.set()
            await asyncio.sleep(1.0)  # three lock times: it is renewed meanwhile
            await a.set_meta("slow", "done")
        await task


async def test_a_busy_replica_does_not_starve_another(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (busy, other):
        done = 0
        under_way = asyncio.Event()

        async def stream() -> None:
            nonlocal done
            for n in range(40):
                async with busy.atomic():
                    await busy.incr("steps")
                    await busy.set_meta("last", str(n))
                done += 1
                if done == 10:
                    under_way.set()

        streams = [asyncio.create_task(stream()) for _ in range(8)]
        await asyncio.wait_for(under_way.wait(), 30)
        async with other.atomic():  # queued behind the busy one, it gets its turn
            await other.set_meta("other", "in")
            at = done
        await asyncio.gather(*streams)
        # it asked after step 10; without the queue it waits until the busy one runs dry
        assert at < 40, f"the other replica waited until step {at} of 320"


async def test_a_waiter_that_gives_up_leaves_the_lock_queue(
    server: RedisServer, prefix: str
) -> None:
    client = Redis.from_url(server.url)
    async with replicas(server.url, prefix) as (a, b):
        leave = asyncio.Event()

        async def hold_the_lock() -> None:
            async with a.atomic():
                await leave.wait()

        async def wait_for_it() -> None:
            async with b.atomic():
                pass

        holder = asyncio.create_task(hold_the_lock())
        await until(lambda: client.exists(f"{prefix}lock"), 5)
        waiter = asyncio.create_task(wait_for_it())
        assert await until(lambda: client.zcard(f"{prefix}lock:queue"), 5) == 1
        waiter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiter
        assert await until(lambda: _queue_empty(client, prefix), 5)
        leave.set()
        await holder
    await client.aclose()


async def _queue_empty(client: Redis, prefix: str) -> bool:
    return await client.zcard(f"{prefix}lock:queue") == 0


async def test_a_dead_replica_in_the_lock_queue_is_passed_over(
    server: RedisServer, prefix: str
) -> None:
    client = Redis.from_url(server.url)
    await client.zadd(f"{prefix}lock:queue", {"dead replica": 1})
    await client.hset(f"{prefix}lock:beats", "dead replica", 1)  # last asked long ago
    async with opened(server.url, prefix, lock_wait_seconds=2.0) as store, store.atomic():
        await store.set_meta("in", "yes")
    assert await client.zcard(f"{prefix}lock:queue") == 0
    await client.aclose()


# money ------------------------------------------------------------------------------------------


async def test_concurrent_holds_across_replicas_never_overdraw(
    server: RedisServer, prefix: str
) -> None:
    async with replicas(server.url, prefix, count=3) as stores:
        await stores[0].open_wallet("team", Decimal("10.00"), 0.0, "start")

        async def hold(n: int) -> bool:
            return await stores[n % 3].hold("team", f"req-{n}", Decimal("0.35"), float(n))

        taken = await asyncio.gather(*(hold(n) for n in range(60)))
        assert sum(taken) == 28  # 28 x 0.35 = 9.80; a 29th would need 10.15
        wallet = await stores[1].get_wallet("team")
        assert wallet is not None
        assert (wallet.balance, wallet.held) == (Decimal("10.00"), Decimal("9.80"))
        assert wallet.ledger_size == 29
        held = [await stores[2].held_for("team", f"req-{n}") for n in range(60)]
        assert sum(h for h in held if h is not None) == Decimal("9.80")
        charged = await asyncio.gather(
            *(stores[n % 3].capture("team", f"req-{n}", 100.0) for n in range(60) if taken[n])
        )
        assert sum(c for c, _ in charged) == Decimal("9.80")
        wallet = await stores[0].get_wallet("team")
        assert wallet is not None
        assert (wallet.balance, wallet.held) == (Decimal("0.20"), Decimal("0"))
        client = Redis.from_url(server.url)
        assert await client.hget(f"{prefix}w:team", "balance") == b"0.20"  # decimal text
        await client.aclose()


async def test_replica_processes_share_holds_and_claims(server: RedisServer, prefix: str) -> None:
    async with opened(server.url, prefix) as store:
        await store.open_wallet("team", Decimal("10.00"), 0.0, "start")
        for n in range(90):
            await store.schedule(float(n), TaskKind.WEBHOOK, f"delivery-{n}")
    children = [
        await asyncio.create_subprocess_exec(
            *child_command(server, prefix, "work", name, "3"), cwd=ROOT, stdout=subprocess.PIPE
        )
        for name in ("a", "b", "c")
    ]
    results = []
    try:
        for child in children:
            out, _ = await asyncio.wait_for(child.communicate(), 60)
            assert child.returncode == 0
            results.append(json.loads(out))
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()
    holds = [h for r in results for h in r["holds"]]
    claimed = [c for r in results for c in r["claimed"]]
    assert len(holds) == 28
    assert sorted(claimed) == sorted(f"delivery-{n}" for n in range(90))  # each one, once
    async with opened(server.url, prefix) as store:
        wallet = await store.get_wallet("team")
        assert wallet is not None
        assert wallet.held == Decimal("9.80")
        assert await store.pending_tasks() == 0
        assert [await store.incr(f"done:delivery-{n}") for n in (0, 45, 89)] == [2, 2, 2]


# timed work -------------------------------------------------------------------------------------


async def test_each_due_task_goes_to_one_replica(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix, count=3) as stores:
        for n in range(200):
            await stores[n % 3].schedule(float(n % 50), TaskKind.START, f"req-{n}")
        assert await stores[0].pending_tasks() == 200

        async def drain(store: RedisStore) -> list[str]:
            got: list[str] = []
            while tasks := await store.claim_due(49.0, limit=7):
                got += [t.ref for t in tasks]
                for task in tasks:
                    await store.ack(task)
            return got

        claimed = await asyncio.gather(*(drain(s) for s in stores))
        everything = [ref for refs in claimed for ref in refs]
        assert sorted(everything) == sorted(f"req-{n}" for n in range(200))
        assert await stores[1].pending_tasks() == 0
        assert await stores[2].next_due() is None


async def test_claims_come_earliest_first_and_only_when_due(
    server: RedisServer, prefix: str
) -> None:
    async with opened(server.url, prefix) as store:
        await store.schedule(5.0, TaskKind.DEADLINE, "late")
        await store.schedule(1.0, TaskKind.START, "early")
        await store.schedule(1.0, TaskKind.WEBHOOK, "early|second")
        assert await store.next_due() == 1.0
        tasks = await store.claim_due(4.0)
        assert [(t.due, t.kind, t.ref) for t in tasks] == [
            (1.0, TaskKind.START, "early"),
            (1.0, TaskKind.WEBHOOK, "early|second"),
        ]
        assert await store.pending_tasks() == 1
        assert await store.claim_due(4.0) == []


async def test_an_unacked_claim_is_handed_out_again_after_its_lease(
    server: RedisServer, prefix: str
) -> None:
    async with replicas(server.url, prefix, lease_seconds=0.3) as (a, b):
        await a.schedule(1.0, TaskKind.WEBHOOK, "delivery-1")
        (task,) = await a.claim_due(2.0)  # a claims it, then "dies" without acking
        assert await b.claim_due(2.0) == []
        started = time.monotonic()
        again = await until(lambda: b.claim_due(2.0), 5)
        assert [t.ref for t in again] == ["delivery-1"]
        assert time.monotonic() - started >= 0.2
        async with b.atomic():
            await b.ack(again[0])
        await asyncio.sleep(0.5)  # past another lease: an acked task stays done
        assert await a.claim_due(2.0) == []
        assert await a.pending_tasks() == 0
        assert task.id == again[0].id


async def test_a_give_back_after_the_lease_ran_out_leaves_the_new_claim_alone(
    server: RedisServer, prefix: str
) -> None:
    """A replica giving back late (it could not reach Redis until after its lease) must not cut
    the lease of the replica that took the task meanwhile: a third would run it again."""
    async with replicas(server.url, prefix, count=3, lease_seconds=0.2) as (a, b, c):
        await a.schedule(1.0, TaskKind.DEADLINE, "req-1")
        (late,) = await a.claim_due(2.0)
        (taken,) = await until(lambda: b.claim_due(2.0), 5)  # a's lease ran out
        assert taken.id == late.id
        assert taken.lease > late.lease
        await a.unclaim([late])
        assert await c.claim_due(2.0) == []  # still b's
        await b.unclaim([taken])  # b's own give-back works at once
        assert [t.ref for t in await c.claim_due(2.0)] == ["req-1"]


async def test_a_lapsed_claim_wakes_the_next_due(server: RedisServer, prefix: str) -> None:
    async with opened(server.url, prefix, lease_seconds=0.2) as store:
        await store.schedule(3.0, TaskKind.START, "req-1")
        assert len(await store.claim_due(3.0)) == 1
        assert await store.next_due() is None
        assert await until(store.next_due, 5) == 3.0


# counters, buckets, polls -----------------------------------------------------------------------


async def test_counters_and_buckets_are_shared(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        counts = await asyncio.gather(*(s.incr("nth:generate") for s in (a, b) * 10))
        assert sorted(counts) == list(range(1, 21))
        tokens = await asyncio.gather(*(s.take_token("key", 2.0, 3, 100.0) for s in (a, b) * 3))
        assert sum(t is None for t in tokens) == 3
        assert all(t is None or t == pytest.approx(0.5) for t in tokens)
        assert await b.take_token("key", 2.0, 3, 100.5) is None  # one token a half second
        assert await a.take_token("key", 2.0, 3, 100.5) == pytest.approx(0.5)


async def test_polls_on_every_replica_are_all_counted(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        await a.create_job(a_job(1))

        async def poll(store: RedisStore) -> None:
            for _ in range(25):
                assert await store.poll_job("req-1") is not None

        async def saves() -> None:  # steps writing the job back meanwhile lose no count
            for n in range(10):
                async with a.atomic():
                    job = await a.get_job("req-1")
                    assert job is not None
                    job.notes = (f"save {n}",)
                    await a.save_job(job)

        await asyncio.gather(poll(a), poll(b), saves())
        job = await b.get_job("req-1")
        assert job is not None
        assert (job.polls, job.phase_polls) == (50, 50)
        assert job.notes == ("save 9",)
        job.move(Status.PROCESSING, 2.0)
        await b.save_job(job)
        polled = await a.poll_job("req-1")
        assert polled is not None
        assert (polled.polls, polled.phase_polls) == (51, 1)
        assert await a.poll_job("req-unknown") is None


# jobs, listings, retention ----------------------------------------------------------------------


async def test_jobs_list_newest_first_across_replicas(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        for n in range(7):
            await (a, b)[n % 2].create_job(a_job(n, key="even" if n % 2 == 0 else "odd"))
        done = await a.get_job("req-2")
        assert done is not None
        done.move(Status.PROCESSING, 3.0)
        done.move(Status.COMPLETED, 4.0)
        await b.save_job(done)
        seen: list[str] = []
        cursor = None
        while True:
            page = await b.list_jobs(limit=3, cursor=cursor)
            seen += [j.request_id for j in page.items]
            assert page.total == 7
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == [f"req-{n}" for n in reversed(range(7))]
        evens = await a.list_jobs(key="even", limit=10)
        assert [j.request_id for j in evens.items] == ["req-6", "req-4", "req-2", "req-0"]
        queued_evens = await a.list_jobs(key="even", status=Status.QUEUED, limit=2)
        assert [j.request_id for j in queued_evens.items] == ["req-6", "req-4"]
        assert queued_evens.total == 3
        assert queued_evens.next_cursor is not None
        rest = await a.list_jobs(key="even", status=Status.QUEUED, cursor=queued_evens.next_cursor)
        assert [j.request_id for j in rest.items] == ["req-0"]
        assert rest.next_cursor is None
        completed = await b.list_jobs(status=Status.COMPLETED)
        assert [j.request_id for j in completed.items] == ["req-2"]
        assert completed.total == 1
        counts = await a.job_counts()
        assert (counts[Status.QUEUED], counts[Status.COMPLETED]) == (6, 1)
        assert (await a.active_jobs("even"), await b.active_jobs("odd")) == (3, 3)


async def test_a_listing_inside_a_step_shows_the_steps_own_jobs(
    server: RedisServer, prefix: str
) -> None:
    async with opened(server.url, prefix) as store:
        await store.create_job(a_job(1))
        async with store.atomic():
            await store.create_job(a_job(2))
            page = await store.list_jobs(limit=10)
            assert [j.request_id for j in page.items] == ["req-2", "req-1"]
            assert page.total == 2
            assert (await store.job_counts())[Status.QUEUED] == 2


async def test_retention_forgets_the_oldest_ended_jobs_with_their_media_and_deliveries(
    server: RedisServer, prefix: str
) -> None:
    retention = Retention(max_jobs=2, max_age_seconds=1000.0)
    async with replicas(server.url, prefix, retention=retention) as (a, b):
        video = RenderedMedia.of(b"\x00video" * 100)
        for n in range(4):
            await a.create_job(a_job(n))
            await b.put_media(f"req-{n}", video)  # the same bytes, kept once
            await a.save_delivery(
                DeliveryRecord(
                    f"d-{n}", f"req-{n}", "http://127.0.0.1:9/hook", {}, "team",
                    attempts=1, outcomes=[{"outcome": "delivered"}],
                )
            )  # fmt: skip
        client = Redis.from_url(server.url)
        assert len(await client.keys(f"{prefix}mb:*")) == 1
        assert await b.delivery_outcomes() == {"delivered": 4}
        for n in range(3):
            job = await b.get_job(f"req-{n}")
            assert job is not None
            job.move(Status.FAILED, 10.0 + n, error="fault")
            await (a, b)[n % 2].save_job(job)
        assert await a.get_job("req-0") is None  # three ended, two kept
        assert await a.get_media("req-0") is None
        assert await a.get_delivery("d-0") is None
        assert await a.deliveries_of("req-0") == []
        media = await b.get_media("req-1")
        assert media is not None
        assert media.data == video.data
        assert media.etag == video.etag
        assert await a.delivery_outcomes() == {"delivered": 3}
        counts = await b.job_counts()
        assert (counts[Status.FAILED], counts[Status.QUEUED]) == (2, 1)
        assert (await a.list_jobs()).total == 3
        # an ended job older than max_age goes when a later one ends
        late = await a.get_job("req-3")
        assert late is not None
        late.move(Status.ERROR, 2000.0)
        await a.save_job(late)
        assert [j.request_id for j in (await b.list_jobs()).items] == ["req-3"]
        assert await client.keys(f"{prefix}mb:*") != []  # req-3's media (same bytes) stays
        assert int(await client.get(f"{prefix}mbytes") or 0) == len(video.data)
        await client.aclose()


async def test_media_is_kept_within_its_byte_bound(server: RedisServer, prefix: str) -> None:
    async with opened(server.url, prefix, retention=Retention(max_media_bytes=250)) as store:
        for n in range(3):
            await store.create_job(a_job(n))
            await store.put_media(f"req-{n}", RenderedMedia.of(bytes([n]) * 100))
        assert await store.get_media("req-0") is None
        assert [await store.get_media(f"req-{n}") is not None for n in (1, 2)] == [True, True]
        await store.put_media("req-unknown", RenderedMedia.of(b"x"))  # no such job: not kept
        assert await store.get_media("req-unknown") is None


async def test_ledger_is_a_bounded_tail_paged_oldest_first(
    server: RedisServer, prefix: str
) -> None:
    async with opened(server.url, prefix, retention=Retention(max_ledger_entries=5)) as store:
        await store.open_wallet("team", Decimal("1"), 0.0, "start")
        for n in range(7):
            await store.set_balance("team", Decimal(n), float(n), f"set {n}")
        first = await store.ledger("team", limit=3)
        assert [e.note for e in first.items] == ["set 2", "set 3", "set 4"]
        assert first.total == 5
        assert first.next_cursor is not None
        rest = await store.ledger("team", limit=3, cursor=first.next_cursor)
        assert [e.note for e in rest.items] == ["set 5", "set 6"]
        assert rest.next_cursor is None
        wallets = await store.list_wallets()
        assert [w.key for w in wallets.items] == ["team"]
        assert wallets.items[0].ledger_size == 8


# journal and events -----------------------------------------------------------------------------


async def test_journal_entries_of_every_replica_come_out_in_one_order(
    server: RedisServer, prefix: str
) -> None:
    async with replicas(server.url, prefix, journal_max_entries=1000) as (a, b):
        for n in range(60):
            for who, store in (("a", a), ("b", b)):
                store.journal_append(an_entry, who, n, size=100)
            if n % 7 == 0:
                await asyncio.sleep(0)  # let the writers push part way through
        from_a = await a.journal_entries()  # reads flush the reader's own queue first
        await b.journal_stats()
        from_a = await a.journal_entries()
        from_b = await b.journal_entries()
        assert [e.seq for e in from_a] == list(range(1, 121))
        assert [e.to_dict() for e in from_a] == [e.to_dict() for e in from_b]
        for who in ("a", "b"):  # each replica's own entries keep their order
            mine = [e.body["n"] for e in from_a if e.body["who"] == who]
            assert mine == list(range(60))
        tail = await b.journal_entries(since=100, limit=5)
        assert [e.seq for e in tail] == [101, 102, 103, 104, 105]
        assert tail[0].headers == {"Ocp-Apim-Subscription-Key": "****abcd"}


async def test_the_journal_is_bounded_in_entries_and_bytes(
    server: RedisServer, prefix: str
) -> None:
    async with opened(server.url, prefix, journal_max_entries=10) as store:
        for n in range(25):
            store.journal_append(an_entry, "a", n)
        entries = await store.journal_entries()
        assert [e.seq for e in entries] == list(range(16, 26))
        stats = await store.journal_stats()
        assert (stats.entries, stats.dropped) == (10, 15)
        assert stats.bytes > 0
        await store.journal_clear()
        store.journal_append(an_entry, "a", 99)
        assert [e.seq for e in await store.journal_entries()] == [26]
        assert (await store.journal_stats()).dropped == 0
    async with opened(server.url, prefix + "b:", journal_max_bytes=1000) as small:
        for n in range(20):
            small.journal_append(an_entry, "a", n)
        stats = await small.journal_stats()
        assert 1 <= stats.entries < 20
        assert stats.bytes <= 1000
        assert stats.dropped == 20 - stats.entries


async def test_events_reach_the_other_replicas_and_not_the_sender(
    server: RedisServer, prefix: str
) -> None:
    async with replicas(server.url, prefix, count=3) as (a, b, c):
        heard: dict[str, list[tuple[str, str]]] = {"a": [], "b": [], "c": []}
        for name, store in zip("abc", (a, b, c), strict=True):
            store.on_event(heard[name].append)
        await a.publish(("clock", "12.5"))
        await b.publish(("reset", ""))
        await c.publish(("scenario", '{"name": "slow"}'))

        async def all_heard() -> bool:
            return all(len(events) == 2 for events in heard.values())

        assert await until(all_heard, 5)
        assert heard["a"] == [("reset", ""), ("scenario", '{"name": "slow"}')]
        assert heard["b"] == [("clock", "12.5"), ("scenario", '{"name": "slow"}')]
        assert heard["c"] == [("clock", "12.5"), ("reset", "")]


async def test_reset_forgets_state_and_keeps_meta(server: RedisServer, prefix: str) -> None:
    async with replicas(server.url, prefix) as (a, b):
        await a.create_job(a_job(1))
        await a.open_wallet("team", Decimal("3"), 0.0, "")
        await a.schedule(1.0, TaskKind.START, "req-1")
        await a.incr("nth")
        await a.set_meta("clock", "42.0")
        a.journal_append(an_entry, "a", 1)
        await a.journal_entries()
        await b.reset()
        assert await a.get_job("req-1") is None
        assert await a.get_wallet("team") is None
        assert await a.pending_tasks() == 0
        assert await a.incr("nth") == 1
        assert (await a.journal_stats()).entries == 0
        assert await a.get_meta("clock") == "42.0"
        await a.create_job(a_job(2))
        assert (await b.job_counts())[Status.QUEUED] == 1


# Redis lost and back ----------------------------------------------------------------------------


async def test_redis_lost_while_running_is_unavailable_then_recovers(prefix: str) -> None:
    port = free_port()
    server = start_redis(port)
    try:
        async with opened(server.url, prefix, socket_timeout=1.0) as store:
            await store.create_job(a_job(1))
            server.stop()
            for call in (
                lambda: store.get_job("req-1"),
                lambda: store.poll_job("req-1"),
                lambda: store.claim_due(10.0),
                lambda: store.incr("n"),
                lambda: store.journal_entries(),
            ):
                started = time.monotonic()
                with pytest.raises(StoreUnavailable):
                    await call()
                assert time.monotonic() - started < 4
            with pytest.raises(StoreUnavailable):
                async with store.atomic():
                    await store.create_job(a_job(2))
            store.journal_append(an_entry, "a", 1)  # never raises; waits for Redis
            server = start_redis(port)  # back, empty (no persistence), on the same port
            await store.create_job(a_job(3))
            job = await store.poll_job("req-3")
            assert job is not None
            assert job.polls == 1
            async with store.atomic():
                assert await store.get_job("req-3") is not None
            entries = await until(store.journal_entries, 5)
            assert [e.body for e in entries] == [{"who": "a", "n": 1}]
    finally:
        server.stop()


# the same as memory -----------------------------------------------------------------------------


async def _both(stores: tuple[Any, Any], method: str, *args: Any, **kwargs: Any) -> Any:
    answers = []
    for store in stores:
        try:
            answers.append(_plain(await getattr(store, method)(*args, **kwargs)))
        except (KeyError, ValueError) as error:  # both refuse alike
            answers.append(type(error))
    assert answers[0] == answers[1], method
    return answers[0]


def _plain(value: Any) -> Any:
    """Values as comparable data: jobs and entries as their dicts, pages without the cursor (its
    text is the backend's own)."""
    if isinstance(value, Page):
        return (_plain(value.items), value.total)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (Job, JournalEntry, DeliveryRecord)):
        return value.to_dict()
    if isinstance(value, Task):
        return (value.due, value.kind, value.ref)
    if isinstance(value, RenderedMedia):
        return (value.data, value.content_type, value.etag)
    if isinstance(value, float):
        return round(value, 9)
    return value


async def _all_pages(store: Any, method: str, **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    cursor = None
    for _ in range(100):
        page = await getattr(store, method)(limit=3, cursor=cursor, **kwargs)
        items += _plain(page.items)
        if page.next_cursor is None:
            return items
        cursor = page.next_cursor
    raise AssertionError("a listing that does not end")


async def test_a_random_run_answers_as_the_memory_store_does(
    server: RedisServer, prefix: str
) -> None:
    retention = Retention(max_jobs=6, max_age_seconds=400.0, max_ledger_entries=8)
    rng = random.Random(1015)
    memory = MemoryStore(retention, journal_max_entries=30)
    async with opened(server.url, prefix, retention=retention, journal_max_entries=30) as redis:
        stores = (memory, redis)
        now = 0.0
        made: list[str] = []
        for step in range(600):
            now += rng.choice((0.5, 1.0, 7.0))
            action = rng.randrange(14)
            key = f"key-{rng.randrange(3)}"
            if action == 0 or not made:
                job = a_job(len(made), key=key)
                job.created_at = job.updated_at = now
                for store in stores:
                    await store.create_job(Job.from_dict(job.to_dict()))
                made.append(job.request_id)
                continue
            rid = rng.choice(made)
            if action == 1:
                await _both(stores, "poll_job", rid)
            elif action == 2:
                jobs = [await s.get_job(rid) for s in stores]
                if jobs[0] is None:
                    assert jobs[1] is None
                    continue
                targets = {
                    Status.QUEUED: (Status.PROCESSING, Status.FAILED),
                    Status.PROCESSING: (Status.COMPLETED, Status.ERROR),
                }.get(jobs[0].status)
                if targets is None:
                    continue
                target = rng.choice(targets)
                for store, job in zip(stores, jobs, strict=True):
                    assert job is not None
                    job.move(target, now, error="fault" if target.value.endswith("R") else None)
                    job.notes = (f"step {step}",)
                    await store.save_job(job)
            elif action == 3:
                await _both(stores, "get_job", rid)
                await _both(stores, "job_counts")
                await _both(stores, "active_jobs", key)
            elif action == 4:
                status = rng.choice([None, *Status])
                only = rng.choice([None, key])
                pages = [await _all_pages(s, "list_jobs", status=status, key=only) for s in stores]
                assert [j["request_id"] for j in pages[0]] == [j["request_id"] for j in pages[1]], (
                    status,
                    only,
                    step,
                )
                assert pages[0] == pages[1]
                await _both(stores, "list_jobs", status=status, key=only, limit=2)
            elif action == 5:
                await _both(stores, "open_wallet", key, Decimal(rng.randrange(1, 5)), now, "open")
                await _both(stores, "hold", key, rid, Decimal("0.35"), now)
            elif action == 6 and await memory.held_for(key, rid) is not None:
                await _both(stores, "held_for", key, rid)
                await _both(stores, "capture", key, rid, now)
            elif action == 7:
                await _both(stores, "release", key, rid, now, "let go")
                await _both(stores, "get_wallet", key)
                assert await _all_pages(memory, "ledger", key=key) == await _all_pages(
                    redis, "ledger", key=key
                )
            elif action == 8:
                await _both(stores, "set_balance", key, Decimal(rng.randrange(0, 3)), now, "op")
                await _both(stores, "list_wallets")
                wallets = [await _all_pages(s, "list_wallets") for s in stores]
                assert wallets[0] == wallets[1]
            elif action == 9:
                due = now + rng.choice((0.0, 1.0, 5.0))
                kind = rng.choice(list(TaskKind))
                for store in stores:
                    await store.schedule(due, kind, rid)
                await _both(stores, "next_due")
                await _both(stores, "pending_tasks")
            elif action == 10:
                await _both(stores, "claim_due", now, limit=rng.randrange(1, 4))
            elif action == 11:
                media = RenderedMedia.of(rid.encode() * 10)
                for store in stores:
                    await store.put_media(rid, media)
                await _both(stores, "get_media", rid)
                delivery = DeliveryRecord(
                    f"{rid}-d{step}", rid, "http://127.0.0.1:9/", {"n": step}, key
                )
                delivery.outcomes.append({"outcome": rng.choice(("delivered", "refused"))})
                for store in stores:
                    await store.save_delivery(DeliveryRecord.from_dict(delivery.to_dict()))
                await _both(stores, "deliveries_of", rid)
                await _both(stores, "delivery_outcomes")
            elif action == 12:
                await _both(stores, "incr", key)
                await _both(stores, "take_token", key, 0.5, 2, now)
                await _both(stores, "get_media", rid)
            else:
                for store in stores:
                    store.journal_append(an_entry, key, step)
                    if step % 50 == 0:
                        await store.journal_clear()
                # seqs after a reset differ (memory's journal skips one at a clear): compare
                # bodies, and pick ``since`` as the seq of the same entry in each
                kept = [await s.journal_entries() for s in stores]
                assert [e.body for e in kept[0]] == [e.body for e in kept[1]]
                assert all(a.seq < b.seq for a, b in itertools.pairwise(kept[1]))
                cut, limit = rng.randrange(len(kept[0]) + 1), rng.choice((None, 4))
                tails = [
                    await s.journal_entries(since=k[cut - 1].seq if cut else 0, limit=limit)
                    for s, k in zip(stores, kept, strict=True)
                ]
                assert [e.body for e in tails[0]] == [e.body for e in tails[1]]
                stats = [await s.journal_stats() for s in stores]
                assert (stats[0].entries, stats[0].dropped) == (stats[1].entries, stats[1].dropped)
            if step % 150 == 149:
                for store in stores:
                    await store.reset()
                made.clear()


async def test_a_redis_that_stops_answering_is_unavailable_not_a_hang(prefix: str) -> None:
    server = start_redis()
    try:
        async with opened(server.url, prefix, socket_timeout=0.5) as store:
            await store.create_job(a_job(1))
            server.process.send_signal(signal.SIGSTOP)  # connected, but never answering
            try:
                for call in (lambda: store.get_job("req-1"), lambda: store.incr("n")):
                    started = time.monotonic()
                    with pytest.raises(StoreUnavailable):
                        await call()
                    assert time.monotonic() - started < 3
            finally:
                server.process.send_signal(signal.SIGCONT)
            job = await store.poll_job("req-1")
            assert job is not None
            assert job.polls == 1
    finally:
        server.stop()


def test_a_test_redis_server_leaves_nothing_behind_when_it_stops() -> None:
    """The helper's redis-server works in a directory of its own, removed as it stops (every
    Redis test starts one: they must not pile up in the temporary directory)."""
    with redis_server() as server:
        workdir = Path(server.workdir)
        assert workdir.is_dir()
        assert server.ping()
    assert not server.ping()
    assert not workdir.exists()
