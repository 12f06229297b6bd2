"""The cluster-wide step lock: one key set with ``SET NX PX`` and a random token, renewed while a
step runs long and released by compare-and-delete, so no two steps run at once on any replica and
a replica that dies holding it blocks the others for one lock time at most."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from typing import Any

from redis.asyncio import Redis

from ._redis_lua import RELEASE_LOCK, RENEW_LOCK
from ._types import StoreUnavailable


class StepLock:
    def __init__(self, redis: Redis, key: str, *, ttl: float, wait: float) -> None:
        self._redis = redis
        self._key = key
        self._ttl_ms = max(1, int(ttl * 1000))
        self._ttl = ttl
        self._wait = wait
        self._local = asyncio.Lock()  # one waiter per process asks Redis; the rest queue here
        self._token = ""
        self._taken_at = 0.0  # monotonic time of the last SET or renewal
        self._timer: asyncio.TimerHandle | None = None  # a short step never starts a renewer
        self._renewer: asyncio.Task[None] | None = None
        self._release = redis.register_script(RELEASE_LOCK)
        self._renew = redis.register_script(RENEW_LOCK)

    @property
    def token(self) -> str:
        return self._token

    @property
    def key(self) -> str:
        return self._key

    async def acquire(self) -> None:
        await self._local.acquire()
        try:
            await self._take()
        except BaseException:
            self._local.release()
            raise
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._ttl / 3, self._start_renewing)

    async def _take(self) -> None:
        token = os.urandom(12).hex()
        deadline = time.monotonic() + self._wait
        pause = 0.0005
        while True:
            started = time.monotonic()
            if await self._redis.set(self._key, token, nx=True, px=self._ttl_ms):
                self._token, self._taken_at = token, started
                return
            if started > deadline:
                raise StoreUnavailable(
                    f"the store's step lock was held by another replica for over {self._wait:g} s"
                )
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 0.02)

    def _start_renewing(self) -> None:
        self._timer = None
        self._renewer = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        """Renew the lock every third of its time while the step runs."""
        while True:
            started = time.monotonic()
            with contextlib.suppress(Exception):  # a lapse shows at commit (valid() is False)
                if await self._renew(keys=[self._key], args=[self._token, self._ttl_ms]):
                    self._taken_at = started
            await asyncio.sleep(self._ttl / 3)

    async def stop_renewing(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        renewer, self._renewer = self._renewer, None
        if renewer is not None:
            renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewer

    def valid(self) -> bool:
        """Still surely ours: less than half its time has passed since it was last set."""
        return time.monotonic() - self._taken_at < self._ttl / 2

    def queue_release(self, pipe: Any) -> None:
        """Release the lock as the last command of a transaction (compare-and-delete). EVAL, not
        EVALSHA: a server restarted since has lost its script cache, and a NOSCRIPT inside a
        transaction would not stop the rest of it."""
        pipe.eval(RELEASE_LOCK, 1, self._key, self._token)

    async def release(self) -> None:
        """Give the lock back (after a failed or empty step); never raises."""
        await self.stop_renewing()
        try:
            with contextlib.suppress(Exception):  # unreachable Redis: the lock times out
                await self._release(keys=[self._key], args=[self._token])
        finally:
            self.done()

    def done(self) -> None:
        """The lock was released within the step's transaction."""
        self._token = ""
        if self._local.locked():
            self._local.release()
