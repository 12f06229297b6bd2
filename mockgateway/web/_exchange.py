"""One exchange in flight and the answers the edge gives: JSON bodies, errors from the table in
:mod:`mockgateway._errors`, and the bounded request-body read."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from multidict import istr

from .._connections import BodyOverdue
from .._errors import ApiError, bad_request
from .._gateway import Gateway
from .._jobs import Job
from .._journal import (
    KEY_HEADER,
    body_digest,
)
from .._jsonfmt import wire_json
from ..faults import HEADER

log = logging.getLogger("mockgateway.web")

_KEY_HEADER_LOWER = KEY_HEADER.lower()
# Header names as multidict identities: a lookup then skips case-folding the name each time.
KEY_HEADER_ID = istr(KEY_HEADER)
SCENARIO_HEADER_ID = istr(HEADER)
_JSON = "application/json"


@dataclass(slots=True)
class Exchange:
    """One request in flight: the gateway serving it and what the handler learned, for the journal.

    The journal keeps what this object learnt (:func:`mockgateway.web._bind.bind`) as the
    response leaves.
    """

    gateway: Gateway
    key: str | None = None  # the Ocp-Apim-Subscription-Key header as sent
    body: bytes | None = None
    answer: bytes | str | None = None  # the JSON bytes answered, or their first part as text
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
    # a status answer that showed the job ended: the job, whose bill the journal shows (made
    # only when the journal is read: an ended job's money never moves again)
    billed: Job | None = None

    def keep_body(self, raw: bytes) -> None:
        """Note the request body for the journal: whole up to the journal's cap, else its first
        part with the whole body's size and digest."""
        cap = self.gateway.store.journal_max_body_bytes
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
    """A JSON response; ``raw`` is the body already encoded by :func:`wire_json` (cached status
    bodies; ``body`` is then not read).

    The journal keeps the bytes sent, read back as JSON only when the journal is read: bytes are
    one object the collector never walks, where the body is a tree of them."""
    encoded = wire_json(body)[1] if raw is None else raw
    ex.answer_size = size = len(encoded)
    cap = ex.gateway.store.journal_max_body_bytes
    if size > cap:  # the journal keeps the first part, as text
        ex.answer = encoded[:cap].decode("utf-8", "replace")
        ex.answer_truncated = True
    else:
        ex.answer = encoded
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
    content = request.content
    try:
        if content.is_eof():  # the whole body came with the headers: taken without waiting
            raw = content.read_nowait()
            if len(raw) <= limit:  # the usual request: no list, no join
                ex.keep_body(raw)
                return raw
            chunks.append(raw)
            size = len(raw)
        # the rest of a body still arriving; at_eof: no empty read after the last chunk
        while not content.at_eof() and (chunk := await content.read(64 * 1024)):
            size += len(chunk)
            chunks.append(chunk)
            if size > limit:
                break
        if size > limit:
            raise bad_request(f"request body is over the limit of {limit} bytes")
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
