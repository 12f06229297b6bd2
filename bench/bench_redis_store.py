"""Store operations per second at 10,000 jobs: the Redis store beside the memory store and a bare
Redis ``PING`` (one round trip, the floor for anything that asks the server), side by side in one
run on a ``redis-server`` of its own (Debian's package).

Rows, one caller and then 32 concurrent ones, best of three rounds each: ``PING``, ``get_job``,
``poll_job``, a step that reads a job and writes it back (``get+save``), ``save_job`` alone (a step
of its own) and ``hold`` (a step of its own); last, how long a journal entry appended on one
replica takes to show on another.

    python bench/bench_redis_store.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockgateway._jobs import Job
from mockgateway._journal import JournalEntry
from mockgateway.store import MemoryStore
from mockgateway.store._redis import RedisStore
from tests.redis_server import redis_server


def a_job(n: int) -> Job:
    return Job(
        request_id=f"req-{n:06d}",
        model_id="omnihuman-1.5",
        key=f"key-{n % 10}",
        inputs=(
            ("image_url", "https://example.test/a.png"),
            ("audio_url", "https://example.test/a.mp3"),
        ),
        resolution="720p",
        created_at=float(n),
        updated_at=float(n),
    )


def an_entry(seq: int, n: int) -> JournalEntry:
    return JournalEntry(
        seq=seq, kind="request", route="status", method="GET", url="u", path="/p", headers={}
    )


class Rates:
    def __init__(self) -> None:
        self.next = 0  # every round gets ids of its own (holds must not repeat)

    async def best(self, op: Callable[[int], Awaitable[Any]], count: int, callers: int) -> float:
        times = []
        for _ in range(3):
            base, self.next = self.next, self.next + count

            async def caller(first: int, base: int = base) -> None:
                for i in range(first, count, callers):
                    await op(base + i)

            started = time.perf_counter()
            await asyncio.gather(*(caller(c) for c in range(callers)))
            times.append(time.perf_counter() - started)
        return count / min(times)


async def rows(store: Any, jobs: int, rates: Rates, callers: int) -> dict[str, float]:
    async def save_step(i: int) -> None:
        async with store.atomic():
            job = await store.get_job(f"req-{i % jobs:06d}")
            await store.save_job(job)

    one = await store.get_job("req-000000")
    ops: dict[str, tuple[Callable[[int], Awaitable[Any]], int]] = {
        "get_job": (lambda i: store.get_job(f"req-{i % jobs:06d}"), 1500),
        "poll_job": (lambda i: store.poll_job(f"req-{i % jobs:06d}"), 1500),
        "get+save": (save_step, 600),
        "save_job": (lambda i: store.save_job(one), 600),
        "hold": (lambda i: store.hold(f"key-{i % 10}", f"h-{i}", Decimal("0.01"), 1.0), 600),
    }
    return {name: await rates.best(op, count, callers) for name, (op, count) in ops.items()}


async def fill(store: Any, jobs: int) -> None:
    for start in range(0, jobs, 100):
        async with store.atomic():
            for n in range(start, min(jobs, start + 100)):
                await store.create_job(a_job(n))
    for k in range(10):
        await store.open_wallet(f"key-{k}", Decimal(10**9), 0.0, "bench")


async def journal_lag(writer: RedisStore, reader: RedisStore) -> list[float]:
    lags = []
    for n in range(200):
        before = (await reader.journal_stats()).entries
        started = time.perf_counter()
        writer.journal_append(an_entry, n)
        while (await reader.journal_stats()).entries == before:
            pass
        lags.append(time.perf_counter() - started)
    return sorted(lags)


async def main(url: str, jobs: int) -> None:
    redis = RedisStore(url, journal_max_entries=1000)
    other = RedisStore(url, journal_max_entries=1000)
    memory = MemoryStore()
    await redis.open()
    await other.open()
    await redis.reset()
    started = time.perf_counter()
    await fill(redis, jobs)
    print(f"{jobs:,} jobs made in the Redis store in {time.perf_counter() - started:.1f} s")
    await fill(memory, jobs)
    rates = Rates()
    for callers in (1, 32):
        ping = await rates.best(lambda i: redis._r.ping(), 1500, callers)
        print(f"\n{callers} caller(s); Redis PING {ping:,.0f}/s")
        found = await rows(redis, jobs, rates, callers)
        kept = await rows(memory, jobs, rates, callers)
        for name, rate in found.items():
            shown = f"redis {rate:9,.0f}/s ({1e6 / rate:6.0f} us)"
            print(f"  {name:<9} {shown}   memory {kept[name]:11,.0f}/s")
    lags = await journal_lag(redis, other)
    print(
        f"\njournal entry seen by another replica: median {lags[100] * 1e3:.2f} ms,"
        f" p99 {lags[198] * 1e3:.2f} ms (the reader's own round trip included)"
    )
    await other.close()
    await redis.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    args = parser.parse_args()
    with redis_server() as server:
        asyncio.run(main(server.url, args.jobs))
