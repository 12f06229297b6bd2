"""The aiohttp edge: routes, the wrapper that journals and renders errors, thin handlers.

Handlers parse the request, call :class:`~mockgateway._gateway.Gateway` and serialise. Every error
a client sees is an :class:`~mockgateway._errors.ApiError` rendered here from the table in
:mod:`mockgateway._errors`. Journaling wraps each route rather than running as aiohttp middleware:
the status poll is the hot path, and a wrapper costs one call where middleware costs a chain.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from yarl import URL

from ._errors import ApiError, apim_error, bad_request, gateway_error, internal_error
from ._gateway import Gateway
from ._journal import KEY_HEADER, JournalEntry, Route, body_digest, redact_key
from ._validation import parse_generate, parse_webhook_url
from ._web_faults import FAULT_ROUTES, with_faults
from .faults import HEADER
from .media import media_response, sample_response, samples_index

log = logging.getLogger("mockgateway.web")

GATEWAY: web.AppKey[Gateway] = web.AppKey("gateway", Gateway)
_KEY_HEADER_LOWER = KEY_HEADER.lower()
_JSON = "application/json"


@dataclass(slots=True)
class Exchange:
    """What a handler learned about one request, for the journal."""

    body: bytes | None = None
    answer: Any = None
    request_id: str | None = None
    model_id: str | None = None
    notes: tuple[str, ...] = ()
    scenario: str | None = None  # selected by a mock-<name> key or X-Mock-Scenario
    fault: str | None = None  # an injected fault, journaled as the error
    answered: bool = True  # False when the client got no response at all (reset, empty)


EXCHANGE: web.RequestKey[Exchange] = web.RequestKey("exchange", Exchange)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_answer(
    request: web.Request,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> web.Response:
    """A JSON response; ``raw`` is the body already encoded (cached status bodies)."""
    request[EXCHANGE].answer = body
    return web.Response(
        status=status,
        body=json.dumps(body).encode() if raw is None else raw,
        content_type=_JSON,
        headers=headers,
    )


def error_answer(request: web.Request, error: ApiError) -> web.Response:
    return json_answer(request, error.status, error.body, error.headers)


def base_url(request: web.Request, configured: str | None) -> str:
    """The origin the client called, honouring forwarding headers, unless one is configured."""
    if configured:
        return configured.rstrip("/")
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}"


async def read_body(request: web.Request, limit: int) -> bytes:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise bad_request(f"request body is {declared} bytes, over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise bad_request(f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    raw = b"".join(chunks)
    request[EXCHANGE].body = raw
    return raw


def _entry(
    seq: int,
    route: Route,
    method: str,
    scheme: str,
    raw_path: str,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    raw_body: bytes | None,
    answer: Any,
    request_id: str | None,
    model_id: str | None,
    notes: tuple[str, ...],
    status: int | None,
    response_headers: tuple[tuple[str, str], ...],
    started: float,
    finished: float,
    error: str | None,
) -> JournalEntry:
    """Build a journal entry from what :func:`exchange` kept (called when the journal is read).

    What is kept is plain strings, bytes and numbers (the wire headers as aiohttp parsed them), so
    a full journal adds almost nothing for the garbage collector to walk.
    """
    headers: dict[str, str] = {}
    key = None
    for raw_name, raw_value in raw_headers:
        name = raw_name.decode("utf-8", "surrogateescape")
        value = raw_value.decode("utf-8", "surrogateescape")
        if name.lower() == _KEY_HEADER_LOWER:
            key = value
            value = redact_key(value) or ""
        headers[name] = value
    host = next((v for n, v in headers.items() if n.lower() == "host"), "")
    body: Any = None
    if raw_body:
        try:
            body = json.loads(raw_body)
        except ValueError:
            body = raw_body[:200].decode("utf-8", "replace")
    return JournalEntry(
        seq=seq,
        kind="request",
        route=route,
        method=method,
        url=f"{scheme}://{host}{raw_path}",
        path=URL(raw_path).path,
        headers=headers,
        key=redact_key(key),
        request_id=request_id,
        model_id=model_id,
        body=body,
        body_size=len(raw_body) if raw_body else 0,
        body_sha256=body_digest(raw_body) if raw_body else None,
        status=status,
        response_headers=dict(response_headers),
        response_body=answer,
        started_at=started,
        finished_at=finished,
        error=error,
        notes=notes,
    )


def exchange(route: Route) -> Callable[[Handler], Handler]:
    """Wrap a handler: errors become their documented bodies, and the exchange is journaled."""

    def wrap(handler: Handler) -> Handler:
        faulty = route in FAULT_ROUTES

        @functools.wraps(handler)
        async def run(request: web.Request) -> web.StreamResponse:
            gateway = request.app[GATEWAY]
            started = gateway.clock.now()
            ex = request[EXCHANGE] = Exchange()
            error: str | None = None
            try:
                headers = request.headers
                if faulty and gateway.faults.engaged(headers.get(KEY_HEADER), headers.get(HEADER)):
                    response = await with_faults(request, handler, gateway, ex, error_answer)
                else:
                    response = await handler(request)
            except ApiError as exc:
                response = error_answer(request, exc)
            except Exception as exc:
                log.exception("unhandled error on %s %s", request.method, request.path)
                error = f"{type(exc).__name__}: {exc}"
                response = error_answer(request, internal_error())
            answered = ex.answered
            gateway.journal.append_lazy(
                _entry,
                route,
                request.method,
                request.scheme,
                request.raw_path,
                request.raw_headers,
                ex.body,
                ex.answer,
                ex.request_id,
                ex.model_id,
                ex.notes,
                response.status if answered else None,
                tuple(response.headers.items()) if answered else (),
                started,
                gateway.clock.now(),
                error or ex.fault,
            )
            return response

        return run

    return wrap


# handlers -------------------------------------------------------------------------------------


@exchange("generate")
async def generate(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    wallet = gateway.authenticate(request.headers.get(KEY_HEADER))
    model_id = request.match_info["model_id"]
    request[EXCHANGE].model_id = model_id
    model = gateway.model(model_id)
    if request.match_info["operation"] != model.operation:
        raise apim_error(404, "Resource not found")
    config = gateway.config
    raw = await read_body(request, config.server.max_body_bytes)
    parsed = parse_generate(
        raw,
        max_bytes=config.server.max_body_bytes,
        default_resolution=config.lifecycle.default_resolution,
    )
    webhook_url = parse_webhook_url(request.headers.get("X-Webhook-URL"))
    if parsed.extra_fields:
        ignored = ", ".join(parsed.extra_fields)
        request[EXCHANGE].notes = (f"undocumented fields ignored: {ignored}",)
    origin = base_url(request, config.server.public_base_url)
    job = gateway.submit(
        wallet,
        model,
        parsed,
        webhook_url=webhook_url,
        media_base_url=base_url(
            request, config.server.media_base_url or config.server.public_base_url
        ),
        scenario=request[EXCHANGE].scenario,
    )
    request[EXCHANGE].request_id = job.request_id
    request[EXCHANGE].notes += gateway.input_notes(job) + gateway.plan_notes(job)
    return json_answer(
        request,
        202,
        {
            "request_id": job.request_id,
            "status": job.status.value,
            "polling_url": f"{origin}/v2/requests/status/{job.request_id}",
        },
    )


@exchange("status")
async def status(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    wallet = gateway.authenticate(request.headers.get(KEY_HEADER))
    request_id = request.match_info["request_id"]
    request[EXCHANGE].request_id = request_id
    body, raw = gateway.poll(wallet.key, request_id)
    return json_answer(request, 200, body, raw=raw)


@exchange("media")
async def media(request: web.Request) -> web.StreamResponse:
    gateway = request.app[GATEWAY]
    request_id = request.match_info["request_id"]
    request[EXCHANGE].request_id = request_id
    job = gateway.jobs.get(request_id)
    expected = gateway.config.lifecycle.output_filename
    if job is None or request.match_info["filename"] != expected:
        raise gateway_error(404, "Not Found", f"No media at {request.path}")
    file = gateway.media_file(request_id)
    ttl = gateway.config.media.link_ttl_seconds
    expires_at = None if ttl is None or job.completed_at is None else job.completed_at + ttl
    return media_response(request, file, expires_at=expires_at, now=gateway.clock.now())


@exchange("admin")
async def samples(request: web.Request) -> web.Response:
    """The bundled samples and their URLs here."""
    origin = base_url(request, request.app[GATEWAY].config.server.public_base_url)
    return json_answer(request, 200, samples_index(origin))


@exchange("admin")
async def sample(request: web.Request) -> web.StreamResponse:
    """A bundled sample input, so clients can point ``image_url``/``audio_url`` at the mock."""
    return sample_response(request, request.match_info["name"])


@exchange("other")
async def unknown(request: web.Request) -> web.Response:
    """A known path with another method: 405 naming the allowed ones ([mock]); any other path:
    API management's 404 ([inferred])."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name != "unknown":
            _match, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        shown = ", ".join(sorted(allowed))
        message = f"{request.method} is not allowed on {request.path}; allowed: {shown}"
        raise gateway_error(405, "Method Not Allowed", message, Allow=shown)
    raise apim_error(404, "Resource not found")


def make_app(gateway: Gateway) -> web.Application:
    from ._admin import add_admin_routes
    from ._admin_faults import add_fault_admin_routes

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[GATEWAY] = gateway
    app.router.add_get("/v2/requests/status/{request_id}", status, name="status")
    app.router.add_post("/{model_id}/v1/{operation}", generate, name="generate")
    app.router.add_get("/v1/{request_id}/{filename}", media, name="media", allow_head=True)
    app.router.add_get("/_mock/samples", samples, name="admin.samples")
    app.router.add_get("/_mock/samples/{name}", sample, name="admin.sample", allow_head=True)
    add_admin_routes(app)
    add_fault_admin_routes(app)
    app.router.add_route("*", "/{tail:.*}", unknown, name="unknown")
    return app
