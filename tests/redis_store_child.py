"""A gateway replica's share of the store's work, run as a real process by tests/test_store_redis.py.

``python -m tests.redis_store_child URL PREFIX MODE [NAME WORKERS]``:

- ``work``: take holds and claim tasks until none is left, acking each; print what it got as JSON.
- ``die-mid-step``: open a step, write into it, print ``in-step`` and wait to be killed.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal

from redis.asyncio import Redis

from mockgateway.store._redis import RedisStore


async def barrier(url: str, prefix: str, workers: int) -> None:
    """Start together: each worker counts itself in and waits for the others (bounded)."""
    client = Redis.from_url(url)
    try:
        await client.incr(f"{prefix}test:ready")
        for _ in range(1000):
            if int(await client.get(f"{prefix}test:ready") or 0) >= workers:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("the other workers did not start")
    finally:
        await client.aclose()


async def work(store: RedisStore, name: str) -> dict[str, object]:
    holds: list[str] = []
    for n in range(40):
        request_id = f"{name}-{n}"
        if await store.hold("team", request_id, Decimal("0.35"), float(n)):
            holds.append(request_id)
    claimed: list[str] = []
    while tasks := await store.claim_due(1e9, limit=3):
        for task in tasks:
            async with store.atomic():
                await store.incr(f"done:{task.ref}")
                await store.ack(task)
            claimed.append(task.ref)
    return {"holds": holds, "claimed": claimed}


async def die_mid_step(store: RedisStore) -> None:
    async with store.atomic():
        await store.open_wallet("doomed", Decimal("5"), 0.0, "made in a step that never ends")
        await store.set_meta("half", "done")
        print("in-step", flush=True)
        await asyncio.Event().wait()


async def main(url: str, prefix: str, mode: str) -> None:
    store = RedisStore(url, prefix=prefix, lock_seconds=1.0)
    await store.open()
    try:
        if mode == "work":
            await barrier(url, prefix, int(sys.argv[5]))
            print(json.dumps(await work(store, sys.argv[4])), flush=True)
        else:
            await die_mid_step(store)
    finally:
        await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
