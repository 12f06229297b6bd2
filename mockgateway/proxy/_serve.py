"""Serving the proxy on a socket: in-process (async) and in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

from aiohttp import web

from .._connections import ConnectionLimits, LimitedSite, connection_limit
from .._threaded import in_thread
from ._proxy import Proxy, ProxySettings


@dataclass(slots=True)
class RunningProxy:
    url: str
    proxy: Proxy


@contextlib.asynccontextmanager
async def serve_proxy(
    settings: ProxySettings, *, host: str = "127.0.0.1", port: int = 0, log: TextIO | None = None
) -> AsyncIterator[RunningProxy]:
    """Serve the proxy on ``host:port`` (0: a free port) for the duration of the block."""
    proxy = Proxy(settings, log=log)
    await proxy.start()
    server = settings.config.server
    runner = web.AppRunner(
        proxy.app(), access_log=None, handle_signals=False,
        keepalive_timeout=server.keepalive_timeout_seconds,
    )  # fmt: skip
    try:
        await runner.setup()
        # the gateway's connection handling: read deadlines, and a request aiohttp cannot
        # parse answered with the gateway's JSON 400, never a traceback on stderr
        site = LimitedSite(
            runner, host, port, limit=connection_limit(server.max_connections),
            limits=ConnectionLimits(
                header_timeout=server.header_timeout_seconds,
                body_timeout=server.body_timeout_seconds,
            ),
        )  # fmt: skip
        await site.start()
        bound = runner.addresses[0][1]
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{bound}"
        # bound to every address: each client is answered with the address it connected to
        # (its socket's, never its Host header)
        proxy.public_url = None if _unspecified(host) else url
        yield RunningProxy(url, proxy)
        await proxy.settle()
    finally:
        await runner.cleanup()
        await proxy.close()


def _unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


class ThreadedProxy:
    def __init__(self, running: RunningProxy, loop: asyncio.AbstractEventLoop) -> None:
        self.running = running
        self.loop = loop

    @property
    def url(self) -> str:
        return self.running.url

    @property
    def proxy(self) -> Proxy:
        return self.running.proxy

    def settle(self, timeout: float = 60.0) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.settle(), self.loop).result(timeout)

    def read(self, fn: Any, timeout: float = 60.0) -> Any:
        """Call ``fn()`` on the proxy's loop (safe access to its state)."""

        async def call() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop).result(timeout)


@contextlib.contextmanager
def proxy_in_thread(settings: ProxySettings, **options: Any) -> Iterator[ThreadedProxy]:
    """Like :func:`serve_proxy`, in a daemon thread; the block runs synchronously."""
    with in_thread(lambda: serve_proxy(settings, **options), "mockgateway-proxy") as (
        running,
        loop,
    ):
        yield ThreadedProxy(running, loop)
