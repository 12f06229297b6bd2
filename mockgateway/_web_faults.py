"""The HTTP edge of failure simulation: scenario selection, injected errors, latency, rate limits
and broken connections, as one aiohttp middleware inside the journal's.

Decisions come from the pure :class:`~mockgateway.faults.FaultEngine`; this module only acts on
them with sockets. Waits (latency, a dribbled body) are gateway-clock sleeps on the scheduler, so
a scaled clock shortens them and a manual clock holds them until it is advanced.
"""

from __future__ import annotations

import socket
import struct

from aiohttp import web

from ._errors import ApiError
from ._journal import KEY_HEADER
from ._web import EXCHANGE, GATEWAY, Handler, error_answer
from .faults import HEADER, Break, BreakKind, Exchange, Route

_ROUTES = {"generate": Route.GENERATE, "status": Route.STATUS, "media": Route.MEDIA}


@web.middleware
async def faults_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Apply the scenario to the gateway's own routes (never to the admin API)."""
    route = _ROUTES.get(request.match_info.route.name or "")
    if route is None:
        return await handler(request)
    gateway = request.app[GATEWAY]
    engine = gateway.faults
    exchange = request[EXCHANGE]
    key = request.headers.get(KEY_HEADER)
    scenario = exchange.scenario = engine.scenario_of(key, request.headers.get(HEADER))
    job = gateway.jobs.get(request.match_info.get("request_id", ""))
    model = request.match_info.get("model_id") or (job.model_id if job else None)
    decision = engine.on_request(
        Exchange(
            route=route,
            key=key,
            model=model,
            phase=job.status.value if job else None,
            scenario=scenario,
        )
    )
    if decision.fired:
        exchange.notes += (f"fault rules fired: {', '.join(decision.fired)}",)
    if decision.latency > 0:
        await gateway.sleep(decision.latency)
    if decision.error is not None:
        raise decision.error
    brk = decision.brk
    if brk is not None and brk.kind in (BreakKind.RESET, BreakKind.EMPTY) and not brk.processed:
        return _close(request, brk.kind)
    limiter_key = key if key and key.strip() else None
    if limiter_key is not None and route is not Route.MEDIA:
        gateway.authenticate(limiter_key)  # an unknown key is a 401 before it is a 429
    limited = engine.rate_limit(
        limiter_key or request.remote or "-", route.value, gateway.clock.now()
    )
    if limited is not None:
        raise limited
    if brk is None:
        return await handler(request)
    try:
        response = await handler(request)
    except ApiError as exc:
        response = error_answer(request, exc)
    if brk.kind in (BreakKind.RESET, BreakKind.EMPTY):
        return _close(request, brk.kind)
    return await _mangle(request, response, brk)


def _close(request: web.Request, kind: BreakKind) -> web.Response:
    """End the connection with no response: a reset (RST) or an orderly close (FIN)."""
    exchange = request[EXCHANGE]
    exchange.answered = False
    what = "reset" if kind is BreakKind.RESET else "closed with no response"
    exchange.fault = f"injected fault: connection {what}"
    transport = request.transport
    if transport is not None:
        if kind is BreakKind.RESET:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # linger on, timeout 0: close() sends RST instead of FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()
    return web.Response(status=499)  # never sent: the connection is gone


async def _mangle(
    request: web.Request, response: web.StreamResponse, brk: Break
) -> web.StreamResponse:
    """Send the real answer broken: truncated, malformed, or dribbled over time."""
    body = response.body if isinstance(response, web.Response) else None
    if not isinstance(body, bytes) or not body:
        return response  # nothing to break (a streamed or empty answer)
    exchange = request[EXCHANGE]
    if brk.kind is BreakKind.MALFORMED:
        exchange.fault = "injected fault: malformed body (cut in half)"
        cut = body[: len(body) // 2]
        malformed = web.Response(status=response.status, body=cut, headers=_headers(response))
        return malformed
    stream = web.StreamResponse(status=response.status, headers=_headers(response))
    stream.content_length = len(body)
    await stream.prepare(request)
    if brk.kind is BreakKind.TRUNCATE:
        sent = int(len(body) * brk.fraction)
        exchange.fault = f"injected fault: body truncated after {sent} of {len(body)} bytes"
        if sent:
            await stream.write(body[:sent])
        if request.transport is not None:
            request.transport.close()
        return stream
    gateway = request.app[GATEWAY]
    exchange.fault = None
    exchange.notes += (f"body dribbled in {brk.chunks} pieces over {brk.seconds:g} s",)
    size = -(-len(body) // brk.chunks)
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    for piece in pieces:
        await gateway.sleep(brk.seconds / len(pieces))
        await stream.write(piece)
    await stream.write_eof()
    return stream


def _headers(response: web.StreamResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
