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
import logging
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from ._access_log import AccessLine
from ._clock import Clock
from ._config import GatewayConfig
from ._connections import ConnectionLimits, LimitedSite, connection_limit
from ._gateway import Gateway
from ._outbound import aiohttp_sender, webhook_session
from ._threaded import in_thread
from ._tls import ServerTls, server_tls
from .media import MediaPipeline
from .web import make_app, serving_handler

T = TypeVar("T")


@dataclass(slots=True)
class RunningGateway:
    """A gateway listening on a socket: its base URL and its core; with a local TLS CA, the
    CA certificate (PEM) a client must trust."""

    url: str
    gateway: Gateway
    host: str
    port: int
    ca_pem: bytes | None = None

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
    tls: bool | ssl.SSLContext | ServerTls = False,
    access_log: logging.Logger | None = None,
) -> AsyncIterator[RunningGateway]:
    """Serve a gateway on ``host:port`` (port 0: a free one) for the duration of the block.

    ``tls=True`` serves HTTPS with a certificate from a local CA made now (its PEM is
    ``ca_pem``); an :class:`ssl.SSLContext` serves with the operator's own. ``access_log``
    gets one line per request (see :mod:`mockgateway._access_log`).
    """
    config = config or GatewayConfig()
    host = host or config.server.host
    port = config.server.port if port is None else port
    secure = server_tls(tls, host)
    scheme = "https" if secure else "http"
    async with webhook_session(config.webhooks) as session:
        gateway = Gateway(config, clock=clock, media=media, webhook_sender=aiohttp_sender(session))
        await gateway.open()
        app = make_app(gateway, scheme=scheme)
        server = config.server
        runner = web.AppRunner(
            app,
            access_log=access_log,
            access_log_class=AccessLine,
            handle_signals=False,
            shutdown_timeout=server.shutdown_timeout_seconds,
            keepalive_timeout=server.keepalive_timeout_seconds,
        )
        await runner.setup()
        assert runner.server is not None  # made by setup()
        runner.server.request_handler = serving_handler(app, gateway, runner.server.request_handler)
        site = LimitedSite(
            runner,
            host,
            port,
            limit=connection_limit(server.max_connections),
            limits=ConnectionLimits(
                header_timeout=server.header_timeout_seconds,
                body_timeout=server.body_timeout_seconds,
            ),
            ssl_context=secure.context if secure else None,
        )
        loop = asyncio.get_running_loop()
        scheduler_task = loop.create_task(gateway.scheduler.run_forever())
        runner_task = loop.create_task(gateway.run_forever())
        try:
            await site.start()
            warm = getattr(gateway.media, "warm", None)
            if callable(warm):  # start the render workers while the first client gets ready
                warm()
            bound_port = runner.addresses[0][1]
            shown = f"[{host}]" if ":" in host else host
            url = f"{scheme}://{shown}:{bound_port}"
            ca_pem = secure.ca_pem if secure else None
            yield RunningGateway(url, gateway, host, bound_port, ca_pem)
        finally:
            # Stopping is prompt whatever is pending: answers held on gateway time are let go
            # now, answers still in flight get shutdown_timeout_seconds, then background work
            # (renders, webhook retries) is cancelled.
            gateway.scheduler.clear()
            await runner.cleanup()
            for task in (scheduler_task, runner_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
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

    @property
    def ca_pem(self) -> bytes | None:
        return self.running.ca_pem

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
    with in_thread(lambda: serve(config, **options), "mockgateway") as (running, loop):
        yield ThreadedGateway(running, loop)
