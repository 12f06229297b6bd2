"""A second process on a SQLite state file, for the tests of :mod:`mockgateway.store._sqlite`.

``python -m tests.sqlite_child hold PATH``: open the file, say ``open`` and keep it until stdin
closes. ``python -m tests.sqlite_child write PATH [COUNT]``: write steps in a loop, printing ``step N``
once step N is acknowledged (``atomic()`` has exited), ``poll N P`` once job N's poll P has
returned and ``journal N`` once its journal entry is recorded, until killed; with ``COUNT``, stop
after that many steps, say ``idle`` and wait to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal

from mockgateway.store import Retention, StoreError, TaskKind
from mockgateway.store._sqlite import SqliteStore

from .store_support import entry, make_job


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def hold(path: str) -> int:
    store = SqliteStore(path, Retention())
    try:
        await store.open()
    except StoreError as exc:
        say(f"refused {exc}")
        return 2
    say("open")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await store.close()
    return 0


async def write(path: str, count: int | None) -> int:
    store = SqliteStore(path, Retention(max_jobs=10**6))
    await store.open()
    await store.open_wallet("k", Decimal("1000000"), 0.0, "start")
    n = 0
    while count is None or n < count:
        n += 1
        job = make_job(n, key="k", at=float(n))
        async with store.atomic():
            await store.create_job(job)
            assert await store.hold("k", job.request_id, Decimal("0.16"), float(n))
            await store.schedule(float(n) + 5.0, TaskKind.DEADLINE, job.request_id)
        say(f"step {n}")
        polled = await store.poll_job(job.request_id)
        assert polled is not None
        say(f"poll {n} {polled.polls}")
        store.journal_append(entry, f"/v2/requests/status/{job.request_id}")
        say(f"journal {n}")
    say("idle")
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    return 0


def main(argv: list[str]) -> int:
    mode, path, *count = argv
    if mode == "hold":
        return asyncio.run(hold(path))
    return asyncio.run(write(path, int(count[0]) if count else None))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
