"""Binding handlers to a gateway: the wrapper that journals each exchange, renders errors and
counts metrics.

A handler is declared as an :class:`Endpoint` (``@endpoint("status")``: the route it is journaled
under) and :func:`bind` wraps it for one gateway when the application registers it. The wrapper
journals and renders errors rather than aiohttp middleware doing it: the status poll is the hot
path, and one closure over the gateway costs a call where middleware costs a chain and an app
lookup per request.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .._bodyparse import json_or_text
from .._errors import ApiError, DomainError, Unavailable, internal_error, wire_error
from .._gateway import Gateway
from .._jobs import Job, final_billing
from .._journal import (
    JournalEntry,
    Route,
    body_digest,
    redact_headers,
    redact_key,
    request_path,
)
from .._jsonfmt import valid_unicode
from .._memo import Memo
from .._metrics import Metrics
from ..store import StoreUnavailable
from ._exchange import (
    _KEY_HEADER_LOWER,
    KEY_HEADER_ID,
    SCENARIO_HEADER_ID,
    ClientGone,
    Exchange,
    Handler,
    RouteHandler,
    error_answer,
)
from ._faults import FAULT_ROUTES, with_faults

log = logging.getLogger("mockgateway.web")


# What a request's journal entry is built from, but its times and the answer's header map: the
# answer kept and the request id first (where two requests differ most often, so a comparison
# ends there), the route and scheme, the method, path and wire headers as aiohttp parsed them,
# the status sent (None: nothing sent) and the error, then the rest of what the handler learnt
# (the Exchange's body, model_id, notes, fault, body_size, body_sha256, answer_size,
# answer_truncated, and last the job billed, compared by value only when all else is equal).
# A poll repeated gives an equal tuple, and the route's last one is kept for it.
Seen = tuple[
    bytes | str | None,
    str | None,
    Route,
    str,
    str,
    str,
    tuple[tuple[bytes, bytes], ...],
    int | None,
    str | None,
    bytes | None,
    str | None,
    tuple[str, ...],
    str | None,
    int,
    str | None,
    int,
    bool,
    Job | None,
]


def _entry(
    seq: int, seen: Seen, response_headers: Mapping[str, str], started: float, finished: float
) -> JournalEntry:
    """Build a journal entry from what :func:`bind` kept (called when the journal is read).

    What is kept is what the request and response already hold (the wire headers as aiohttp parsed
    them, the response's header map, what the handler learnt), so a poll copies nothing.
    """
    (
        answer,
        request_id,
        route,
        scheme,
        method,
        raw_path,
        raw_headers,
        status,
        error,
        raw_body,
        model_id,
        notes,
        fault,
        body_size,
        body_sha256,
        answer_size,
        answer_truncated,
        billed,
    ) = seen
    sent = {  # as text a JSON reader takes: a byte that is not UTF-8 becomes U+FFFD
        name.decode("utf-8", "replace"): value.decode("utf-8", "replace")
        for name, value in raw_headers
    }
    key = next((v for n, v in sent.items() if n.lower() == _KEY_HEADER_LOWER), None)
    host = next((v for n, v in sent.items() if n.lower() == "host"), "")
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
        request_id=request_id,
        model_id=model_id,
        body=body,
        body_size=body_size,
        body_sha256=body_sha256 or (body_digest(raw_body) if raw_body else None),
        status=status,
        response_headers=dict(response_headers),
        response_body=_answer(answer),
        started_at=started,
        finished_at=finished,
        error=valid_unicode(error or fault),
        notes=valid_unicode(notes),
        billing=None if billed is None else final_billing(billed),
        body_truncated=bool(raw_body) and body_size > len(raw_body or b""),
        body_unparsed=not parsed,
        response_body_size=answer_size,
        response_body_truncated=answer_truncated,
    )


# Answers read back from their bytes: equal ones (a poll repeated) share one tree, as they did
# when the handler answered them. Small ones only, so the memo stays small in bytes.
_ANSWERS: Memo[bytes, Any] = Memo(256)
_SHARED_ANSWER_BYTES = 4096


def _answer(kept: bytes | str | None) -> Any:
    """A journaled answer as data: the JSON bytes sent, read back, or the text kept of one over
    the journal's cap."""
    if not isinstance(kept, bytes):
        return kept
    found = _ANSWERS.get(kept)
    if found is None:
        found = json.loads(kept)
        if len(kept) <= _SHARED_ANSWER_BYTES:
            _ANSWERS.keep(kept, found)
    return found


METRICS = web.AppKey("metrics", Metrics)


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


_NOTHING: Mapping[str, str] = {}
# What an answer's header map (kept by its journal entry) weighs: the map and its values
# (about 520 bytes measured with tracemalloc for a status answer's four headers).
ANSWER_HEADERS_BYTES = 576


class _Last:
    """What the route journaled last, and what it weighs.

    A client polling sends the same request every time, and a poll repeated learns the same things
    (the same request id, answer and bill). Journaling the tuple already kept, rather than each
    request's own, keeps a full journal small and lets each request's copies be freed while they
    are still in cache. The wire headers and path last journaled are kept the same way (with what
    the headers weigh): a client sends the same ones from one request to the next.
    """

    __slots__ = ("header_bytes", "headers", "path", "seen", "size")

    def __init__(self) -> None:
        self.seen: Seen | None = None
        self.size = 0
        self.headers: tuple[tuple[bytes, bytes], ...] = ()
        self.header_bytes = 0
        self.path = ""

    def weigh(self, body: bytes | None, answer: bytes | str | None) -> int:
        """The bytes an entry keeps alive: the request's path and wire headers (the ones kept
        here), its ``body``, the ``answer`` kept and the answer's header map."""
        size = self.header_bytes + len(self.path) + ANSWER_HEADERS_BYTES
        return size + (len(body) if body else 0) + (len(answer) if answer else 0)


def bind(
    declared: Endpoint,
    gateway: Gateway,
    metrics: Metrics | None = None,
    scheme: str = "http",
    journaled: bool = True,
) -> Handler:
    """Wrap a handler for ``gateway``: errors become their documented bodies, the exchange is
    journaled (under ``scheme``, the one the gateway serves; not at all when ``journaled`` is
    false) and counted in ``metrics``.

    The journal keeps references, not copies: what the handler learnt, the response's header map,
    and the wire headers and path as aiohttp parsed them (the route's last ones when all equal).
    """
    route, handler = declared.route, declared.handler
    faults = gateway.faults if route in FAULT_ROUTES else None
    store = gateway.store
    journal_on = journaled and store.journal_enabled  # fixed when the store is opened
    # a store that reads an entry as it is recorded gets the answer's headers as they are sent
    headers_first = journal_on and not store.journal_reads_late
    append = store.journal_append
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
        except DomainError as exc:
            response = error_answer(ex, wire_error(exc))
        except StoreUnavailable as lost:
            error = f"the state store is out of service: {lost}"
            unavailable = Unavailable(
                "The service is temporarily unavailable: its state store is out of service"
                f" ({lost})."
            )
            response = error_answer(ex, wire_error(unavailable))
        except ClientGone as gone:
            ex.answered = False
            ex.notes += (str(gone),)
            response = web.Response(status=400)  # never sent: the connection is closed
        except Exception as exc:
            log.exception("unhandled error on %s %s", request.method, request.path)
            error = f"{type(exc).__name__}: {exc}"
            response = error_answer(ex, internal_error())
        answered = ex.answered
        status = response.status if answered else None
        observe(status or 0, timer() - began)
        if journal_on:
            if headers_first and answered and not response.prepared:
                await _write_headers(request, response)
            # A client's wire headers are the same from one request to the next (and the path
            # from one generate to the next): the copies kept already are journaled for them.
            wire = request.raw_headers
            if wire != last.headers:
                last.headers = wire
                last.header_bytes = sum(len(n) + len(v) for n, v in wire)
            path = request.raw_path
            if path != last.path:
                last.path = path
            seen: Seen = (
                ex.answer,
                ex.request_id,
                route,
                scheme,
                request.method,
                last.path,
                last.headers,
                status,
                error,
                ex.body,
                ex.model_id,
                ex.notes,
                ex.fault,
                ex.body_size,
                ex.body_sha256,
                ex.answer_size,
                ex.answer_truncated,
                ex.billed,
            )
            if seen == last.seen:  # compared item by item, the same objects at once
                seen = last.seen
            else:
                last.seen = seen
                last.size = last.weigh(ex.body, ex.answer)
            # The answer's own header map: aiohttp completes it in place (Date, Server,
            # Content-Length) as it sends the answer, so the journal reads it as it was sent.
            sent = response.headers if answered else _NOTHING
            append(_entry, seen, sent, started, now(), size=last.size)
        return response

    return run


async def _write_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Prepare the answer now, as aiohttp would right after the handler: its headers are written
    and its header map holds all that was sent (``Date``, ``Server``, ``Content-Length``). A
    client already gone is aiohttp's to find out, as it writes the rest."""
    with contextlib.suppress(ConnectionError):
        await response.prepare(request)


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
