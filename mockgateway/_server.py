"""Serving the gateway: in-process for async tests, in a thread for synchronous clients.

::

    async with mockgateway.serve() as gw:        # a free port on 127.0.0.1
        print(gw.url)

    with mockgateway.serve_in_thread() as gw:    # for requests, subprocess clients...
        print(gw.url)
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from aiohttp import web

from ._clock import Clock
from ._config import GatewayConfig
from ._connections import ConnectionLimits, LimitedSite, connection_limit
from ._gateway import Gateway
from ._outbound import aiohttp_sender
from ._web import make_app
from .media import MediaPipeline

T = TypeVar("T")


@dataclass(slots=True)
class RunningGateway:
    """A gateway listening on a socket: its base URL and its core."""

    url: str
    gateway: Gateway
    host: str
    port: int

    async def advance(self, seconds: float) -> float:
        """Move a manual clock and settle all that became due."""
        return await self.gateway.advance(seconds)

    async def settle(self) -> None:
        await self.gateway.settle()


@contextlib.asynccontextmanager
async def serve(
    config: GatewayConfig | None = None,
    *,
    host: str | None = None,
    port: int | None = 0,
    clock: Clock | None = None,
    media: MediaPipeline | None = None,
) -> AsyncIterator[RunningGateway]:
    """Serve a gateway on ``host:port`` (port 0: a free one) for the duration of the block."""
    config = config or GatewayConfig()
    host = host or config.server.host
    port = config.server.port if port is None else port
    async with aiohttp.ClientSession() as session:
        gateway = Gateway(config, clock=clock, media=media, webhook_sender=aiohttp_sender(session))
        app = make_app(gateway)
        server = config.server
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=server.shutdown_timeout_seconds,
            keepalive_timeout=server.keepalive_timeout_seconds,
        )
        await runner.setup()
        site = LimitedSite(
            runner,
            host,
            port,
            limit=connection_limit(server.max_connections),
            limits=ConnectionLimits(
                header_timeout=server.header_timeout_seconds,
                body_timeout=server.body_timeout_seconds,
            ),
        )
        scheduler_task = asyncio.get_running_loop().create_task(gateway.scheduler.run_forever())
        try:
            await site.start()
            warm = getattr(gateway.media, "warm", None)
            if callable(warm):  # start the render workers while the first client gets ready
                warm()
            bound_port = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            yield RunningGateway(f"http://{shown}:{bound_port}", gateway, host, bound_port)
        finally:
            # Stopping is prompt whatever is pending: answers held on gateway time are let go
            # now, answers still in flight get shutdown_timeout_seconds, then background work
            # (renders, webhook retries) is cancelled.
            gateway.scheduler.clear()
            await runner.cleanup()
            scheduler_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await scheduler_task
            await gateway.close()


class ThreadedGateway:
    """A gateway served from its own event loop in a background thread."""

    def __init__(self, running: RunningGateway, loop: asyncio.AbstractEventLoop) -> None:
        self.running = running
        self.loop = loop

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def gateway(self) -> Gateway:
        return self.running.gateway

    def call(self, fn: Callable[[], Awaitable[T]], timeout: float = 60.0) -> T:
        """Run a coroutine function on the gateway's loop and return its result."""

        async def wrapper() -> T:
            return await fn()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def run(self, fn: Callable[[], T], timeout: float = 60.0) -> T:
        """Run a plain function on the gateway's loop (safe access to gateway state)."""

        async def wrapper() -> T:
            return fn()

        return self.call(wrapper, timeout)

    def advance(self, seconds: float) -> float:
        return self.call(lambda: self.running.advance(seconds))

    def settle(self) -> None:
        self.call(self.running.settle)


@contextlib.contextmanager
def serve_in_thread(
    config: GatewayConfig | None = None, **options: Any
) -> Iterator[ThreadedGateway]:
    """Like :func:`serve`, but the gateway runs in a daemon thread; the block runs synchronously."""
    ready: threading.Event = threading.Event()
    stop: asyncio.Event | None = None
    holder: dict[str, Any] = {}

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with serve(config, **options) as running:
                holder["gw"] = ThreadedGateway(running, asyncio.get_running_loop())
                ready.set()
                await stop.wait()
        except BaseException as exc:
            holder["error"] = exc
            ready.set()

    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), daemon=True, name="mockgateway"
    )
    thread.start()
    ready.wait()
    if "error" in holder:
        thread.join()
        loop.close()
        raise holder["error"]
    try:
        yield holder["gw"]
    finally:
        assert stop is not None
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
