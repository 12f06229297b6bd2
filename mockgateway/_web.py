"""The aiohttp edge: routes, the wrapper that journals and renders errors, thin handlers.

Handlers parse the request, call :class:`~mockgateway._gateway.Gateway` and serialise. Every error
a client sees is an :class:`~mockgateway._errors.ApiError` rendered here from the table in
:mod:`mockgateway._errors`.

A handler is declared as an :class:`Endpoint` (``@endpoint("status")``: the route it is journaled
under) and :func:`bind` wraps it for one gateway when :func:`make_app` registers it. The wrapper
journals and renders errors rather than aiohttp middleware doing it: the status poll is the hot
path, and one closure over the gateway costs a call where middleware costs a chain and an app
lookup per request.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import istr

from ._bodyparse import json_or_text
from ._connections import BodyOverdue
from ._errors import ApiError, apim_error, bad_request, gateway_error, internal_error
from ._gateway import Gateway
from ._jobs import Status, billing_record
from ._journal import (
    KEY_HEADER,
    JournalEntry,
    Route,
    body_digest,
    redact_headers,
    redact_key,
    request_path,
    valid_unicode,
)
from ._metrics import Metrics
from ._validation import parse_generate, parse_webhook_url
from ._web_faults import FAULT_ROUTES, with_faults
from .faults import HEADER
from .media import media_response, sample_response, samples_index

log = logging.getLogger("mockgateway.web")

_KEY_HEADER_LOWER = KEY_HEADER.lower()
# Header names as multidict identities: a lookup then skips case-folding the name each time.
KEY_HEADER_ID = istr(KEY_HEADER)
SCENARIO_HEADER_ID = istr(HEADER)
_JSON = "application/json"


@dataclass(slots=True)
class Exchange:
    """One request in flight: the gateway serving it and what the handler learned, for the journal.

    The journal keeps this object and reads it when the journal is read: nothing changes it once
    the response has left.
    """

    gateway: Gateway
    key: str | None = None  # the Ocp-Apim-Subscription-Key header as sent
    body: bytes | None = None
    answer: Any = None
    request_id: str | None = None
    model_id: str | None = None
    notes: tuple[str, ...] = ()
    scenario: str | None = None  # selected by a mock-<name> key or X-Mock-Scenario
    fault: str | None = None  # an injected fault, journaled as the error
    answered: bool = True  # False when the client got no response at all (reset, empty)
    # The journal keeps at most its max_body_bytes of each body: ``body`` is then the first part,
    # and these give the whole body's size and digest, and the whole answer's size.
    body_size: int = 0
    body_sha256: str | None = None
    answer_size: int = 0
    answer_truncated: bool = False

    def keep_body(self, raw: bytes) -> None:
        """Note the request body for the journal: whole up to the journal's cap, else its first
        part with the whole body's size and digest."""
        cap = self.gateway.journal.max_body_bytes
        self.body_size = len(raw)
        if len(raw) > cap:
            self.body_sha256 = body_digest(raw)
            raw = raw[:cap]
        self.body = raw


class ClientGone(Exception):
    """The client closed the connection before its request body arrived: nobody to answer."""


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RouteHandler = Callable[[web.Request, Exchange], Awaitable[web.StreamResponse]]


def json_answer(
    ex: Exchange,
    status: int,
    body: Any,
    headers: dict[str, str] | None = None,
    *,
    raw: bytes | None = None,
) -> web.Response:
    """A JSON response; ``raw`` is the body already encoded (cached status bodies)."""
    encoded = json.dumps(body).encode() if raw is None else raw
    if b"\\ud" in encoded and valid_unicode(body) != body:  # a header's bytes echoed back
        body = valid_unicode(body)
        encoded = json.dumps(body).encode()
    ex.answer_size = size = len(encoded)
    cap = ex.gateway.journal.max_body_bytes
    if size > cap:  # the journal keeps the first part, as text
        ex.answer = encoded[:cap].decode("utf-8", "replace")
        ex.answer_truncated = True
    else:
        ex.answer = body
    return web.Response(status=status, body=encoded, content_type=_JSON, headers=headers)


def error_answer(ex: Exchange, error: ApiError) -> web.Response:
    return json_answer(ex, error.status, error.body, error.headers)


def base_url(request: web.Request, configured: str | None) -> str:
    """The origin the client called, honouring forwarding headers, unless one is configured."""
    if configured:
        return configured.rstrip("/")
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}"


async def read_body(request: web.Request, ex: Exchange, limit: int) -> bytes:
    """The whole request body, at most ``limit`` bytes (else a 400); :class:`ClientGone` when the
    client leaves before it has sent it all."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise bad_request(f"request body is {declared} bytes, over the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        while chunk := await request.content.read(64 * 1024):
            size += len(chunk)
            if size > limit:
                raise bad_request(f"request body is over the limit of {limit} bytes")
            chunks.append(chunk)
    except ConnectionError as exc:
        ex.keep_body(b"".join(chunks))
        shown = "" if declared is None else f" of {declared}"
        why = f"{exc}; closed" if isinstance(exc, BodyOverdue) else "client closed the connection"
        raise ClientGone(f"{why} after {size}{shown} body bytes") from None
    except web.RequestPayloadError as exc:  # a body aiohttp cannot decode (Content-Encoding)
        ex.keep_body(b"".join(chunks))
        encoding = request.headers.get("Content-Encoding", "")
        shown = f" (Content-Encoding: {encoding})" if encoding else ""
        cause = getattr(exc.__cause__, "message", None) or str(exc)
        raise bad_request(f"request body could not be read{shown}: {cause.strip()}") from None
    raw = b"".join(chunks)
    ex.keep_body(raw)
    return raw


def _entry(
    seq: int,
    route: Route,
    method: str,
    raw_path: str,
    raw_headers: tuple[tuple[bytes, bytes], ...],
    ex: Exchange,
    status: int | None,
    response_headers: Mapping[str, str],
    started: float,
    finished: float,
    error: str | None,
    scheme: str = "http",
) -> JournalEntry:
    """Build a journal entry from what :func:`bind` kept (called when the journal is read).

    What is kept is what the request and response already hold (the wire headers as aiohttp parsed
    them, the response's header map, the :class:`Exchange`), so a poll copies nothing.
    """
    sent = {  # as text a JSON reader takes: a byte that is not UTF-8 becomes U+FFFD
        name.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for name, value in raw_headers
    }
    key = next((v for n, v in sent.items() if n.lower() == _KEY_HEADER_LOWER), None)
    host = next((v for n, v in sent.items() if n.lower() == "host"), "")
    raw_body = ex.body
    body: Any = None
    parsed = True
    if raw_body:
        body, parsed = json_or_text(raw_body)
    return JournalEntry(
        seq=seq,
        kind="request",
        route=route,
        method=method,
        url=valid_unicode(f"{scheme}://{host}{raw_path}"),
        path=valid_unicode(request_path(raw_path)),
        headers=redact_headers(sent),
        key=redact_key(key),
        request_id=ex.request_id,
        model_id=ex.model_id,
        body=body,
        body_size=ex.body_size,
        body_sha256=ex.body_sha256 or (body_digest(raw_body) if raw_body else None),
        status=status,
        response_headers=dict(response_headers),
        response_body=ex.answer,
        started_at=started,
        finished_at=finished,
        error=valid_unicode(error or ex.fault),
        notes=valid_unicode(ex.notes),
        billing=_billing(ex) if route == "status" else None,
        body_truncated=bool(raw_body) and ex.body_size > len(raw_body or b""),
        body_unparsed=not parsed,
        response_body_size=ex.answer_size,
        response_body_truncated=ex.answer_truncated,
    )


METRICS = web.AppKey("metrics", Metrics)


def _billing(ex: Exchange) -> dict[str, Any] | None:
    """The job's billing when this status answer showed it ended (its money is settled then)."""
    answer = ex.answer
    if not isinstance(answer, dict) or answer.get("status") not in _TERMINAL or not ex.request_id:
        return None
    job = ex.gateway.jobs.get(ex.request_id)
    return billing_record(job) if job is not None and job.status.terminal else None


_TERMINAL = frozenset(s.value for s in Status if s.terminal)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A handler and the journal route it is recorded under, not yet bound to a gateway."""

    route: Route
    handler: RouteHandler


def endpoint(route: Route) -> Callable[[RouteHandler], Endpoint]:
    """Declare a handler; :func:`bind` turns it into an aiohttp handler for one gateway."""

    def declare(handler: RouteHandler) -> Endpoint:
        return Endpoint(route, handler)

    return declare


class _Last:
    """The path and wire headers last journaled on one route.

    A client polling sends the same ones every time. Journaling the copy already kept, rather than
    each request's own, keeps a full journal small and lets each request's copy be freed while it
    is still in cache.
    """

    __slots__ = ("header_bytes", "headers", "path")

    def __init__(self) -> None:
        self.path = ""
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.header_bytes = 0  # what the kept headers weigh, charged to each entry that uses them


_NOTHING: Mapping[str, str] = {}


def bind(
    declared: Endpoint, gateway: Gateway, metrics: Metrics | None = None, scheme: str = "http"
) -> Handler:
    """Wrap a handler for ``gateway``: errors become their documented bodies, the exchange is
    journaled (under ``scheme``, the one the gateway serves) and counted in ``metrics``.

    The journal keeps references, not copies: the :class:`Exchange`, the response's header map,
    and the wire headers and path as aiohttp parsed them (the route's earlier copy when equal).
    """
    route, handler = declared.route, declared.handler
    faults = gateway.faults if route in FAULT_ROUTES else None
    journal = gateway.journal
    cap = journal.max_body_bytes
    now = gateway.clock.now
    last = _Last()
    observe = (metrics or Metrics()).route(route).observe
    timer = time.perf_counter  # latency in real time, whatever the gateway clock does

    @functools.wraps(handler)
    async def run(request: web.Request) -> web.StreamResponse:
        began = timer()
        started = now()
        headers = request.headers
        ex = Exchange(gateway, headers.get(KEY_HEADER_ID))
        error: str | None = None
        try:
            if faults is not None and faults.engaged(ex.key, headers.get(SCENARIO_HEADER_ID)):
                response = await with_faults(request, handler, gateway, ex, error_answer)
            else:
                response = await handler(request, ex)
        except ApiError as exc:
            response = error_answer(ex, exc)
        except ClientGone as gone:
            ex.answered = False
            ex.notes += (str(gone),)
            response = web.Response(status=400)  # never sent: the connection is closed
        except Exception as exc:
            log.exception("unhandled error on %s %s", request.method, request.path)
            error = f"{type(exc).__name__}: {exc}"
            response = error_answer(ex, internal_error())
        answered = ex.answered
        observe(response.status if answered else 0, timer() - began)
        if journal.enabled:
            path = request.raw_path
            if path != last.path:
                last.path = path
            raw_headers = request.raw_headers
            if raw_headers != last.headers:
                last.headers = raw_headers
                last.header_bytes = sum(len(n) + len(v) for n, v in raw_headers) + len(path)
            body = ex.body
            journal.append_lazy(
                _entry,
                route,
                request.method,
                last.path,
                last.headers,
                ex,
                response.status if answered else None,
                response.headers if answered else _NOTHING,
                started,
                now(),
                error,
                scheme,
                size=(len(body) if body else 0) + min(ex.answer_size, cap) + last.header_bytes,
            )
        return response

    return run


class Routes:
    """Registers endpoints on an application, each bound to the application's gateway."""

    def __init__(self, app: web.Application, gateway: Gateway, scheme: str = "http") -> None:
        self._router = app.router
        self._gateway = gateway
        self._metrics = app[METRICS]
        self._scheme = scheme

    def _bind(self, declared: Endpoint) -> Handler:
        return bind(declared, self._gateway, self._metrics, self._scheme)

    def get(self, path: str, declared: Endpoint, name: str) -> None:
        """GET, and HEAD answered by the same handler (as ``add_get`` does)."""
        self._router.add_get(path, self._bind(declared), name=name)

    def add(self, method: str, path: str, declared: Endpoint, name: str) -> None:
        self._router.add_route(method, path, self._bind(declared), name=name)


# handlers -------------------------------------------------------------------------------------


@endpoint("generate")
async def generate(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    wallet = gateway.authenticate(ex.key)
    model_id = request.match_info["model_id"]
    ex.model_id = model_id
    model = gateway.model(model_id)
    if request.match_info["operation"] != model.operation:
        raise apim_error(404, "Resource not found")
    config = gateway.config
    raw = await read_body(request, ex, config.server.max_body_bytes)
    parsed = parse_generate(
        raw,
        max_bytes=config.server.max_body_bytes,
        default_resolution=config.lifecycle.default_resolution,
    )
    webhook_url = parse_webhook_url(request.headers.get("X-Webhook-URL"))
    if parsed.extra_fields:
        ignored = ", ".join(parsed.extra_fields)
        ex.notes = (f"undocumented fields ignored: {ignored}",)
    origin = base_url(request, config.server.public_base_url)
    job = gateway.submit(
        wallet,
        model,
        parsed,
        webhook_url=webhook_url,
        media_base_url=base_url(
            request, config.server.media_base_url or config.server.public_base_url
        ),
        scenario=ex.scenario,
    )
    ex.request_id = job.request_id
    ex.notes += gateway.input_notes(job) + gateway.plan_notes(job)
    return json_answer(
        ex,
        202,
        {
            "request_id": job.request_id,
            "status": job.status.value,
            "polling_url": f"{origin}/v2/requests/status/{job.request_id}",
        },
    )


@endpoint("status")
async def status(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    key = gateway.admit(ex.key)  # no wallet: only a key that submitted has jobs to poll
    request_id = request.match_info["request_id"]
    ex.request_id = request_id
    body, raw = gateway.poll(key, request_id)
    return json_answer(ex, 200, body, raw=raw)


@endpoint("media")
async def media(request: web.Request, ex: Exchange) -> web.StreamResponse:
    gateway = ex.gateway
    request_id = request.match_info["request_id"]
    ex.request_id = request_id
    job = gateway.jobs.get(request_id)
    expected = gateway.config.lifecycle.output_filename
    if job is None or request.match_info["filename"] != expected:
        raise gateway_error(404, "Not Found", f"No media at {request.path}")
    file = await gateway.media_file(request_id)
    ttl = gateway.config.media.link_ttl_seconds
    expires_at = None if ttl is None or job.completed_at is None else job.completed_at + ttl
    return media_response(request, file, expires_at=expires_at, now=gateway.clock.now())


@endpoint("admin")
async def samples(request: web.Request, ex: Exchange) -> web.Response:
    """The bundled samples and their URLs here."""
    origin = base_url(request, ex.gateway.config.server.public_base_url)
    return json_answer(ex, 200, samples_index(origin))


@endpoint("admin")
async def sample(request: web.Request, ex: Exchange) -> web.StreamResponse:
    """A bundled sample input, so clients can point ``image_url``/``audio_url`` at the mock."""
    return sample_response(request, request.match_info["name"])


@endpoint("other")
async def unknown(request: web.Request, ex: Exchange) -> web.Response:
    """A known path with another method: 405 naming the allowed ones ([mock]); an unknown
    ``/_mock/`` path: the operator API's 404 ([mock]); any other path: API management's 404
    ([inferred])."""
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource.name != "unknown":
            _match, methods = await resource.resolve(request)
            allowed |= methods
    if allowed:
        shown = ", ".join(sorted(allowed))
        message = f"{request.method} is not allowed on {request.path}; allowed: {shown}"
        raise gateway_error(405, "Method Not Allowed", message, Allow=shown)
    if request.path.startswith("/_mock/"):  # the operator API answers in the gateway's shape
        raise gateway_error(404, "Not Found", f"No operator route at {request.path}")
    raise apim_error(404, "Resource not found")


def make_app(gateway: Gateway, *, scheme: str = "http") -> web.Application:
    """The gateway's application; ``scheme`` is what it is served over (``https`` with TLS)."""
    from ._admin import add_admin_routes
    from ._admin_faults import add_fault_admin_routes

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[METRICS] = Metrics()
    routes = Routes(app, gateway, scheme)
    routes.get("/v2/requests/status/{request_id}", status, "status")
    routes.add("POST", "/{model_id}/v1/{operation}", generate, "generate")
    routes.get("/v1/{request_id}/{filename}", media, "media")
    routes.get("/_mock/samples", samples, "admin.samples")
    routes.get("/_mock/samples/{name}", sample, "admin.sample")
    add_admin_routes(routes)
    add_fault_admin_routes(routes)
    routes.add("*", "/{tail:.*}", unknown, "unknown")
    return app
