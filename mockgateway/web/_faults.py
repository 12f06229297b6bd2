"""The HTTP edge of failure simulation: scenario selection, injected errors, latency, rate limits
and broken connections, applied around the gateway's own handlers (never the admin API).

Decisions come from the pure :class:`~mockgateway.faults.FaultEngine`; this module only acts on
them with sockets. Waits (latency, a dribbled body) are gateway-clock sleeps on the scheduler, so
a scaled clock shortens them and a manual clock holds them until it is advanced.
"""

from __future__ import annotations

import contextlib
import socket
import struct
from collections.abc import Awaitable, Callable

from aiohttp import web

from .._errors import ApiError, DomainError, wire_error
from .._gateway import Gateway
from ..faults import HEADER, Break, BreakKind, Context, Route
from ._exchange import Exchange as WebExchange

FAULT_ROUTES: dict[str, Route] = {
    "generate": Route.GENERATE,
    "status": Route.STATUS,
    "media": Route.MEDIA,
}
RouteHandler = Callable[[web.Request, WebExchange], Awaitable[web.StreamResponse]]
RenderError = Callable[[WebExchange, ApiError], web.Response]


async def with_faults(
    request: web.Request,
    handler: RouteHandler,
    gateway: Gateway,
    ex: WebExchange,
    render_error: RenderError,
) -> web.StreamResponse:
    """Run ``handler`` under the scenario: wait, answer an error, rate-limit or break as decided."""
    engine = gateway.faults
    route = FAULT_ROUTES[request.match_info.route.name or ""]
    headers = request.headers
    key = ex.key
    scenario = ex.scenario = engine.scenario_of(key, headers.get(HEADER))
    if scenario is None and engine.quiet:  # a mock- key that names no scenario
        return await handler(request, ex)
    job = await gateway.store.get_job(request.match_info.get("request_id", ""))
    decision = await engine.on_request(
        Context(
            route=route,
            key=key,
            model=request.match_info.get("model_id") or (job.model_id if job else None),
            phase=job.status.value if job else None,
            scenario=scenario,
        )
    )
    if decision.fired:
        ex.notes += (f"fault rules fired: {', '.join(decision.fired)}",)
    if decision.latency > 0:
        await gateway.scheduler.sleep(decision.latency)
    brk = decision.brk
    closes = brk is not None and brk.kind in (BreakKind.RESET, BreakKind.EMPTY)
    if decision.error is not None or (brk is not None and closes and not brk.processed):
        if route is Route.GENERATE:
            await _keep_body(request, ex, gateway.config.server.max_body_bytes)
        if decision.error is not None:
            raise decision.error
        assert brk is not None
        return _close(request, ex, brk.kind)
    if engine.limited:
        client = key.strip() if key and key.strip() else None
        if client is not None and route is not Route.MEDIA:
            await gateway.accounts.admit(client)  # an unknown key is a 401 before it is a 429
        too_fast = await engine.rate_limit(
            client or request.remote or "-", route.value, gateway.clock.now()
        )
        if too_fast is not None:
            raise too_fast
    if brk is None:
        return await handler(request, ex)
    try:
        response = await handler(request, ex)
    except ApiError as exc:
        response = render_error(ex, exc)
    except DomainError as exc:
        response = render_error(ex, wire_error(exc))
    if closes:
        return _close(request, ex, brk.kind)
    return await _mangle(request, response, brk, gateway, ex)


async def _keep_body(request: web.Request, ex: WebExchange, limit: int) -> None:
    """Read a generate body the handler will not see, so the journal still records it."""
    declared = request.content_length
    if request.can_read_body and declared is not None and declared <= limit:
        ex.keep_body(await request.read())


def _close(request: web.Request, ex: WebExchange, kind: BreakKind) -> web.Response:
    """End the connection with no response: a reset (RST) or an orderly close (FIN)."""
    ex.answered = False
    what = "reset" if kind is BreakKind.RESET else "closed with no response"
    ex.fault = f"injected fault: connection {what}"
    transport = request.transport
    if transport is not None:
        if kind is BreakKind.RESET:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # linger on with a zero timeout: closing sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return web.Response(status=499)  # never sent: the connection is gone


async def _mangle(
    request: web.Request,
    response: web.StreamResponse,
    brk: Break,
    gateway: Gateway,
    ex: WebExchange,
) -> web.StreamResponse:
    """Send the real answer broken: truncated, malformed, or dribbled over gateway time."""
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or not body:
        return response  # nothing to break (a streamed or empty answer)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    if brk.kind is BreakKind.MALFORMED:
        ex.fault = "injected fault: malformed body (cut in half)"
        return web.Response(status=response.status, body=body[: len(body) // 2], headers=headers)
    stream = web.StreamResponse(status=response.status, headers=headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    if brk.kind is BreakKind.TRUNCATE:
        sent = int(len(body) * brk.fraction)
        ex.fault = f"injected fault: body truncated after {sent} of {len(body)} bytes"
        if sent:
            with contextlib.suppress(ConnectionError):  # the client may be gone already
                await stream.write(body[:sent])
        if request.transport is not None:
            request.transport.close()
        return stream
    ex.notes += (f"body dribbled in {brk.chunks} pieces over {brk.seconds:g} s",)
    size = -(-len(body) // brk.chunks)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    try:
        for piece in pieces:
            await gateway.scheduler.sleep(brk.seconds / len(pieces))
            await stream.write(piece)
        await stream.write_eof()
    except ConnectionError:
        ex.fault = "the client closed the connection during the dribble"
    return stream
