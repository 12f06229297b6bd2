"""Events between replicas over one Redis pub/sub channel: each message carries its sender's id,
so a process hears every other process and never itself. The listener reconnects by itself after
Redis comes back; an event published while a replica was cut off is not replayed to it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

Event = tuple[str, str]

log = logging.getLogger("mockgateway.store")


class EventChannel:
    def __init__(
        self, redis: Redis, channel: str, listeners: list[Callable[[Event], None]]
    ) -> None:
        self._redis = redis
        self._channel = channel
        self.origin = os.urandom(8).hex()
        self._listeners = listeners  # the store's, added to before or after open
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, timeout: float) -> None:
        """Subscribe, waiting up to ``timeout`` for the first subscription to be in place."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="mockgateway-store-events")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def publish(self, event: Event) -> None:
        kind, value = event
        await self._redis.publish(self._channel, json.dumps([self.origin, kind, value]))

    async def _run(self) -> None:
        pause = 0.05
        while True:
            pubsub: PubSub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self._subscribed.set()
                pause = 0.05
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._deliver(message.get("data"))
            except (RedisError, OSError) as error:
                log.debug("store events wait for Redis: %s", error)
            finally:
                with contextlib.suppress(Exception):
                    # typed as a callable: redis-py types aclose from 8.x, not before
                    close: Callable[[], Awaitable[None]] = pubsub.aclose
                    await close()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)

    def _deliver(self, data: object) -> None:
        try:
            origin, kind, value = json.loads(data)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            log.warning("an event on %s that is not one of ours was ignored", self._channel)
            return
        if origin == self.origin:
            return
        for listener in list(self._listeners):
            try:
                listener((str(kind), str(value)))
            except Exception:
                log.exception("a store event listener failed")
