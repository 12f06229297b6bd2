"""Connections: how many the gateway holds at once, how long a slow one may take, and what a
request aiohttp cannot parse is answered.

:class:`LimitedSite` accepts connections itself, at most ``limit`` at once (below the process's
open-files limit): beyond it, new connections wait in the listen backlog instead of failing with
"Too many open files", and are served as soon as a slot frees (a connection idle between requests
is closed to free one for a client that waits). :class:`GatewayRequestHandler`
closes a connection whose request headers take longer than ``header_timeout`` or whose body takes
longer than ``body_timeout``, so a client sending a byte a second cannot hold a slot for ever, and
answers a request line or header block aiohttp rejects with the gateway's JSON 400.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import resource
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from ._errors import bad_request, internal_error

log = logging.getLogger("mockgateway.server")

# Descriptors kept free for everything that is not a client connection: the listening socket,
# webhook and input-fetch sockets, render worker pipes, log files, the journal.
DESCRIPTOR_HEADROOM = 64
_MESSAGE_LIMIT = 200  # characters of aiohttp's parse error quoted back to the client
_monotonic = time.monotonic  # log_access's ``time`` argument hides the module there
# aiohttp's own, called once per request: a call through super() costs a lookup each time
_log_access = RequestHandler.log_access
_data_received = RequestHandler.data_received


def connection_limit(configured: int = 0) -> int:
    """``configured`` if set, else the open-files limit less :data:`DESCRIPTOR_HEADROOM`."""
    if configured > 0:
        return configured
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(8, soft - max(DESCRIPTOR_HEADROOM, soft // 8))


class BodyOverdue(ConnectionResetError):
    """A request body that did not arrive within the body timeout: the connection is closed, and
    the handler reading it learns so as a client gone (nothing is answered)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionLimits:
    header_timeout: float  # from a request's first byte to the end of its headers
    body_timeout: float  # from the end of the headers to the end of the body


class GatewayRequestHandler(RequestHandler):
    """aiohttp's connection handler with read deadlines and the gateway's error shape."""

    __slots__ = ("_body_timer", "_header_timer", "_limits", "_on_lost", "idle_since")

    def __init__(
        self,
        manager: web.Server,
        *,
        limits: ConnectionLimits,
        on_lost: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._limits = limits
        self._on_lost: Callable[[], None] | None = on_lost
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self.idle_since: float | None = None  # monotonic time of its last answer, until the next

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._header_timer = self._loop.call_later(
            self._limits.header_timeout, self._headers_overdue
        )

    @property
    def idle(self) -> bool:
        """Answered, and nothing of a next request has arrived."""
        return (
            self.idle_since is not None
            and self._current_request is None
            and not self._messages
            and self._header_timer is None
        )

    def log_access(
        self, request: BaseRequest, response: web.StreamResponse, time: float | None
    ) -> None:
        """Called as an answer has been sent (``finish_response``'s last step, whether the
        client stayed or not): the connection is idle from now until its next request."""
        self.idle_since = _monotonic()
        _log_access(self, request, response, time)

    def data_received(self, data: bytes) -> None:
        if data:
            self.idle_since = None
        between_requests = self._current_request is None and not self._messages
        parsed = self._request_count
        _data_received(self, data)
        if self._request_count > parsed:  # a request's headers are complete
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None
            if self._messages:
                payload = self._messages[-1][1]
                if self._body_timer is not None:
                    self._body_timer.cancel()
                    self._body_timer = None
                if not payload.is_eof():  # a poll's empty body needs no deadline, nor its timer
                    self._body_timer = self._loop.call_later(
                        self._limits.body_timeout, self._body_overdue, payload
                    )
        elif between_requests and self._header_timer is None and data:
            self._header_timer = self._loop.call_later(
                self._limits.header_timeout, self._headers_overdue
            )

    def _headers_overdue(self) -> None:
        self._header_timer = None
        log.debug("closing a connection whose request headers took too long")
        self.force_close()

    def _body_overdue(self, payload: Any) -> None:
        self._body_timer = None
        if not payload.is_eof():
            log.debug("closing a connection whose request body took too long")
            # A handler still reading the body learns why, rather than meeting aiohttp's
            # RuntimeError("Connection closed.") on its next read.
            timeout = self._limits.body_timeout
            payload.set_exception(
                BodyOverdue(f"the body did not arrive within {timeout:g} s (body_timeout_seconds)")
            )
            self.force_close()

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel(self._header_timer)
        self._cancel(self._body_timer)
        self._header_timer = self._body_timer = None
        super().connection_lost(exc)
        on_lost, self._on_lost = self._on_lost, None
        if on_lost is not None:
            on_lost()

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """As aiohttp's, but a body the client sent broken (an undecodable Content-Encoding) is the
        client's problem: aiohttp meets it again draining the body after the answer, and a
        traceback for each such request would fill the log."""
        if isinstance(kw.get("exc_info"), web.RequestPayloadError):
            self.log_debug("Unreadable request body: %s", kw["exc_info"])
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request aiohttp rejected before routing (or a handler's uncaught error), answered
        in the gateway's shape from the one error table, never as plain text."""
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
            error = internal_error()
        else:
            # Malformed requests are the client's problem: no log line per bad request.
            self.log_debug("Bad request from %s: %s", request.remote, message or exc)
            reason = (message or "the request could not be parsed").strip()
            if len(reason) > _MESSAGE_LIMIT:
                reason = reason[:_MESSAGE_LIMIT] + "..."
            error = bad_request(f"malformed HTTP request: {reason}")
        if request.writer.output_size > 0:
            raise ConnectionError("the response has begun; an error answer cannot follow")
        response = web.Response(
            status=error.status,
            body=json.dumps(error.body).encode(),
            content_type="application/json",
        )
        response.force_close()
        return response


class _Listener:
    """What :class:`aiohttp.web.BaseSite` calls its ``_server``: the sockets, and ``close``."""

    def __init__(self, sock: socket.socket, task: asyncio.Task[None]) -> None:
        self.sockets = [sock]
        self._task = task

    def close(self) -> None:
        self._task.cancel()
        loop = self._task.get_loop()
        for sock in self.sockets:
            if sock.fileno() >= 0:
                loop.remove_reader(sock.fileno())  # before the number can be reused
            sock.close()


class ListenFailed(OSError):
    """A site could not open its socket: a host that does not resolve, an address in use or not
    this machine's, a port that needs privileges. (Any other ``OSError`` is not about listening.)"""


class LimitedSite(web.BaseSite):
    """A TCP site that holds at most ``limit`` connections at once (see the module docstring)."""

    __slots__ = (
        "_connecting",
        "_free",
        "_handlers",
        "_host",
        "_limit",
        "_limits",
        "_open",
        "_port",
        "_reuse_address",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        limit: int,
        limits: ConnectionLimits,
        ssl_context: ssl.SSLContext | None = None,
        backlog: int = 128,
        reuse_address: bool = True,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context, backlog=backlog)
        self._host, self._port = host, port
        self._limit, self._limits = limit, limits
        self._reuse_address = reuse_address
        self._open = 0
        self._free: asyncio.Event | None = None
        self._connecting: set[asyncio.Task[None]] = set()
        self._handlers: set[GatewayRequestHandler] = set()

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        port = self._port
        if isinstance(self._server, _Listener):
            port = self._server.sockets[0].getsockname()[1]
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{scheme}://{host}:{port}"

    @property
    def open_connections(self) -> int:
        return self._open

    async def start(self) -> None:
        await super().start()
        try:
            sock = await self._listen()
        except OSError as exc:
            raise ListenFailed(exc.errno, exc.strerror or str(exc)) from None
        loop = asyncio.get_running_loop()
        self._free = asyncio.Event()
        self._server = _Listener(sock, loop.create_task(self._accept(sock)))  # type: ignore[assignment]

    async def _listen(self) -> socket.socket:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(
            self._host, self._port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        family, kind, proto, _name, address = infos[0]
        sock = socket.socket(family, kind, proto)
        try:
            if self._reuse_address:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:  # worded as asyncio's create_server words it
                reason = (exc.strerror or str(exc)).lower()
                raise OSError(
                    exc.errno, f"error while attempting to bind on address {address!r}: {reason}"
                ) from None
            sock.listen(self._backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        assert self._free is not None
        quiet_until = 0.0
        while True:
            while self._open >= self._limit:  # the rest wait in the listen backlog
                self._free.clear()
                await self._make_room(sock)
            try:
                conn, _address = await loop.sock_accept(sock)
            except (ConnectionAbortedError, InterruptedError):
                continue
            except OSError as exc:
                if exc.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                # Out of descriptors for a moment (something else holds them): wait, and say
                # so at most once a minute.
                if time.monotonic() >= quiet_until:
                    log.warning("cannot accept connections: %s; retrying", exc.strerror)
                    quiet_until = time.monotonic() + 60
                await asyncio.sleep(0.1)
                continue
            self._open += 1
            task = loop.create_task(self._connect(conn, self._slot()))
            self._connecting.add(task)
            task.add_done_callback(self._connecting.discard)

    async def _make_room(self, sock: socket.socket) -> None:
        """Wait for a slot; once a client is waiting for one, close the connection idle the
        longest between requests (a client's pool keeps them; closing one costs it nothing)."""
        assert self._free is not None
        loop = asyncio.get_running_loop()
        waiting: asyncio.Future[bool] = loop.create_future()

        def ready() -> None:
            if not waiting.done():
                waiting.set_result(True)

        fd = sock.fileno()
        loop.add_reader(fd, ready)
        freed: asyncio.Future[bool] = loop.create_task(self._free.wait())
        try:
            await asyncio.wait([waiting, freed], return_when=asyncio.FIRST_COMPLETED)
            loop.remove_reader(fd)
            if not freed.done():
                idle = [h for h in self._handlers if h.idle]
                if idle:
                    min(idle, key=lambda h: h.idle_since or 0.0).force_close()
                await freed
        finally:
            if sock.fileno() == fd:  # closed: the listener has removed it already
                loop.remove_reader(fd)
            freed.cancel()
            waiting.cancel()

    def _slot(self) -> Callable[[], None]:
        """The release of one connection's slot, which frees it once however often it is called."""
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                self._open -= 1
                if self._free is not None:
                    self._free.set()

        return release

    async def _connect(self, conn: socket.socket, release: Callable[[], None]) -> None:
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()

        def lost() -> None:
            self._handlers.discard(made)
            release()

        # server._kwargs: the handler settings the runner was given (access log and so on)
        made = GatewayRequestHandler(
            server, loop=loop, limits=self._limits, on_lost=lost, **server._kwargs
        )
        self._handlers.add(made)

        conn.setblocking(False)
        try:
            if self._ssl_context is None:
                await loop.connect_accepted_socket(lambda: made, conn)
            else:
                await loop.connect_accepted_socket(
                    lambda: made,
                    conn,
                    ssl=self._ssl_context,
                    ssl_handshake_timeout=self._limits.header_timeout,
                )
        except (OSError, ssl.SSLError, TimeoutError):
            conn.close()
            lost()
