"""The cluster-wide step lock: one key set with ``SET NX PX`` and a random token, renewed while a
step runs long and released by compare-and-delete, so no two steps run at once on any replica and
a replica that dies holding it blocks the others for one lock time at most.

Replicas waiting for it queue in Redis and get it in the order they first asked (a script takes
it only for the head of the queue), so a busy replica cannot starve the others. Within a process,
steps queue on a local lock and only the first asks Redis. When a step ends with another of this
process waiting and no other replica queued, the lock is handed on instead of released (the
step's transaction renews it rather than deleting it; a step that wrote nothing hands it on for
free), at most :data:`HANDOFFS` times in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Coroutine
from typing import Any

from redis.asyncio import Redis

from ._redis_lua import ACQUIRE_LOCK, LEAVE_QUEUE, RELEASE_LOCK, RENEW_LOCK
from ._types import StoreUnavailable

HANDOFFS = 16  # consecutive steps of one process on one lock before it is released
IDLE = 0.05  # seconds a handed-on lock waits for the waiter before it is released anyway
STALE_MS = 1000  # a queued replica that has not asked for this long is passed over


class StepLock:
    def __init__(self, redis: Redis, key: str, *, ttl: float, wait: float) -> None:
        self._redis = redis
        self._key = key
        self._ttl_ms = max(1, int(ttl * 1000))
        self._ttl = ttl
        self._wait = wait
        self._local = asyncio.Lock()  # one waiter per process asks Redis; the rest queue here
        self._waiting = 0  # tasks of this process queued for the local lock
        self._token = ""  # set while this process holds the Redis lock
        self._taken_at = 0.0  # monotonic time of the last SET or renewal
        self._handoffs = 0
        self._timer: asyncio.TimerHandle | None = None  # a short step never starts a renewer
        self._renewer: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._queue = [key + ":queue", key + ":beats"]
        self._others_queued = False  # another replica waited at the last commit
        self._leaving: set[asyncio.Task[None]] = set()  # queue leaving, idle release
        self._acquire = redis.register_script(ACQUIRE_LOCK)
        self._leave = redis.register_script(LEAVE_QUEUE)
        self._release = redis.register_script(RELEASE_LOCK)
        self._renew = redis.register_script(RENEW_LOCK)

    @property
    def token(self) -> str:
        return self._token

    @property
    def key(self) -> str:
        return self._key

    async def acquire(self) -> None:
        self._waiting += 1
        try:
            await self._local.acquire()
        finally:
            self._waiting -= 1
        try:
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if not (self._token and self.valid()):  # not handed on, or handed on too late
                await self._drop()
                await self._take()
        except BaseException:
            self._local.release()
            raise
        delay = max(0.0, self._taken_at + self._ttl / 3 - time.monotonic())
        self._timer = asyncio.get_running_loop().call_later(delay, self._start_renewing)

    async def _take(self) -> None:
        token = os.urandom(12).hex()
        deadline = time.monotonic() + self._wait
        pause = 0.0005
        keys = [self._key, *self._queue]
        args: list[str | int] = [token, self._ttl_ms, STALE_MS]
        try:
            while True:
                started = time.monotonic()
                acquired = await self._acquire(keys=keys, args=args)
                if (task := asyncio.current_task()) is not None and task.cancelling():
                    # a cancel the Redis client swallowed mid-command still counts: give up now
                    raise asyncio.CancelledError
                if acquired:
                    self._token, self._taken_at, self._handoffs = token, started, 0
                    return
                if started > deadline:
                    raise StoreUnavailable(
                        "the store's step lock was held by another replica for over"
                        f" {self._wait:g} s"
                    )
                await asyncio.sleep(pause * (0.5 + random.random()))
                pause = min(pause * 2, 0.005)
        except BaseException:  # given up or cancelled: leave the queue, not block it a while
            self._in_background(self._leave_queue(token))
            raise

    def _in_background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._leaving.add(task)
        task.add_done_callback(self._leaving.discard)

    async def _leave_queue(self, token: str) -> None:
        with contextlib.suppress(Exception):
            await self._leave(keys=self._queue, args=[token])

    async def _drop(self) -> None:
        """Delete the Redis lock if it is still ours; never raises (it times out anyway)."""
        token, self._token = self._token, ""
        self._handoffs = 0
        if token:
            with contextlib.suppress(Exception):
                await self._release(keys=[self._key], args=[token])

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

    # ending a step ----------------------------------------------------------------------------

    def hand_on(self) -> bool:
        """Whether the step ending now hands the lock to a waiter of this process."""
        return (
            self._waiting > 0
            and not self._others_queued
            and self._handoffs < HANDOFFS
            and self.valid()
        )

    def queue_end(self, pipe: Any, hand_on: bool) -> None:
        """Release (compare-and-delete) or renew the lock as the last command of the step's
        transaction. EVAL, not EVALSHA: a server restarted since has lost its script cache, and
        a NOSCRIPT inside a transaction would not stop the rest of it."""
        if hand_on:
            pipe.eval(RENEW_LOCK, 1, self._key, self._token, self._ttl_ms)
        else:
            pipe.eval(RELEASE_LOCK, 1, self._key, self._token)
        pipe.zcard(self._queue[0])  # the last reply: whether other replicas wait

    def queued(self, replies: list[Any]) -> None:
        """Read the step transaction's replies: do other replicas wait for the lock?"""
        self._others_queued = bool(replies and replies[-1])

    def ended(self, hand_on: bool, renewed_at: float | None = None) -> None:
        """The step's transaction released the lock, or renewed it (at ``renewed_at``) to hand
        it on."""
        if hand_on:
            if renewed_at is not None:
                self._taken_at = renewed_at
            self._handoffs += 1
            self._idle = asyncio.get_running_loop().call_later(IDLE, self._release_idle)
        else:
            self._token, self._handoffs = "", 0
        self._local.release()

    async def release(self) -> None:
        """Give the lock back (after a failed step); never raises."""
        await self.stop_renewing()
        try:
            await self._drop()
        finally:
            self._local.release()

    def _release_idle(self) -> None:
        """A handed-on lock nobody took up (its waiter was cancelled): release it."""
        self._idle = None
        if self._token and not self._local.locked():
            self._in_background(self._drop_idle())

    async def _drop_idle(self) -> None:
        async with self._local:
            if self._token and self._idle is None:
                await self._drop()

    async def close(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._leaving:  # let a waiter that gave up finish leaving the queue
            await asyncio.wait(self._leaving, timeout=1.0)
        await self.stop_renewing()
        await self._drop()
