"""The checking proxy: forwards the documented requests to the upstream and judges its answers.

Generate, status and media requests go to the upstream with the client's key; ``polling_url`` and
media URLs on the upstream's origin are rewritten onto the proxy, so the client keeps talking to
it; media streams through. A client's ``X-Webhook-URL`` is replaced by an address under
``--webhook-base-url`` that the upstream calls, and each callback is delivered onward. Every
answer is checked by the drift rules, and every exchange the client made is journaled as the
gateway journals its own, so the checker's rules judge the client the same way.

Hostile input is answered locally and never billed: an ``X-Webhook-URL`` the gateway would refuse
(its own 400) or whose host the webhook policy refuses is checked before anything goes upstream;
an answer over :data:`MAX_ANSWER_BYTES` becomes a 502 (and a drift), never a cut 2xx; URLs are
rewritten onto the proxy's own address, never the request's ``Host``. Any 2xx to a generate
counts against the budget (at its most when no request id can be read).

Connections go only to the upstream (a session whose policy admits its host and nothing else)
and to the client's webhook receivers (the webhook policy of the configuration).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import aiohttp
from aiohttp import web
from yarl import URL

from .._config import GatewayConfig
from .._errors import ApiError, operator_token_required
from .._journal import KEY_HEADER, Journal, JournalEntry, Route
from .._netpolicy import may_look_up
from .._outbound import read_prefix
from .._token import shows_token
from .._validation import parse_webhook_url
from .._webhooks import webhook_policy
from ._drift import Drift, answer_drifts, too_large, webhook_drifts
from ._drift_log import DriftLog, Evidence, Known
from ._receivers import Receivers
from ._record import LOCAL_NOTE, entry, kept_body, proxy_har, scrub
from ._recording import Recording
from ._spend import SpendGuard
from ._tracked import TrackedJob
from ._upstream import CHUNK, MAX_ANSWER_BYTES, Upstream

RELAY_PREFIX = "/_mock/relay/"
MAX_BODY_BYTES = 1024 * 1024  # a generate body (the real limit is not documented)
MAX_JOBS = 100_000  # jobs first seen in a status answer (not submitted through the proxy)
MAX_MEDIA_PATHS = 100_000  # media paths on the upstream's host an answer named (oldest forgotten)
_TO_UPSTREAM = ("Content-Type", "Cache-Control", "Accept", KEY_HEADER)
_MEDIA_TO_UPSTREAM = ("Range", "If-Range", "If-None-Match", "If-Modified-Since")
_TO_CLIENT = (
    "Content-Type", "Retry-After", "Cache-Control", "ETag", "Last-Modified", "Accept-Ranges",
    "Content-Range", "Allow", "Expires", "Content-Disposition", "Vary", "Location",
)  # fmt: skip
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProxySettings:
    """``upstream``: the gateway's base URL; ``webhook_base_url``: where the upstream can reach
    this proxy (its callbacks go to ``{webhook_base_url}/_mock/relay/<token>``)."""

    upstream: str
    webhook_base_url: str | None = None
    config: GatewayConfig = field(default_factory=GatewayConfig)
    allow_billable: bool = False
    budget: Decimal | None = None
    known: tuple[Known, ...] = ()
    timeout: float = 60.0
    record: Path | None = None  # --record: every exchange, written as it happens
    operator_token: str | None = None  # set: /_mock/ views need Authorization: Bearer <token>


def _pick(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    lowered = {n.lower() for n in names}
    return {k: v for k, v in headers.items() if k.lower() in lowered}


def _now_iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _json_answer(status: int, body: dict[str, Any], **headers: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(body).encode(),
        content_type="application/json",
        headers=headers,
    )


class Proxy:
    """The proxy's state and handlers (one per run)."""

    def __init__(self, settings: ProxySettings, *, log: TextIO | None = None) -> None:
        self.settings = settings
        self.upstream = Upstream(settings.upstream, timeout=settings.timeout)
        self.receivers = Receivers(settings.config.webhooks)
        self.log = log if log is not None else sys.stderr
        config = settings.config
        self.drifts = DriftLog(known=settings.known)
        self.spend = SpendGuard(
            allow_billable=settings.allow_billable,
            budget=settings.budget,
            models={m.id: m for m in config.models if m.enabled},
            charge_failed=config.billing.charge_failed,
        )
        self.journal = Journal(
            config.journal.max_entries,
            max_bytes=config.journal.max_bytes,
            max_body_bytes=config.journal.max_body_bytes,
        )
        self.jobs: dict[str, TrackedJob] = {}
        self.keys: dict[str, str | None] = {}  # request id -> the client's key, to journal it
        self.hooks: dict[str, str] = {}  # relay token -> request id
        self.hook_policy = webhook_policy(config.webhooks)
        # media paths on the upstream's host that an answer named, served through the proxy
        self.media_paths: OrderedDict[str, str | None] = OrderedDict()
        self.unidentified = 0  # accepted generates whose request id could not be read
        # the proxy's own address, as the client reaches it (set once bound; never the Host)
        self.public_url: str | None = None
        self.recording = (
            Recording(settings.record, self.log) if settings.record is not None else None
        )
        self._tasks: set[asyncio.Task[None]] = set()

    # lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        await self.upstream.start()
        await self.receivers.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.upstream.close()
        await self.receivers.close()

    async def settle(self) -> None:
        """Wait for the background work under way (measuring outputs)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_ANSWER_BYTES)
        app.router.add_post("/{model_id}/v1/{operation}", self.generate)
        app.router.add_get("/v2/requests/status/{request_id}", self.status)
        app.router.add_get("/v1/{request_id}/{name}", self.media)
        app.router.add_post(RELAY_PREFIX + "{token}", self.relay)
        app.router.add_get("/_mock/drift", self._operator(self.drift_view))
        app.router.add_get("/_mock/spend", self._operator(self.spend_view))
        app.router.add_get("/_mock/journal", self._operator(self.journal_view))
        app.router.add_get("/_mock/journal.har", self._operator(self.har_view))
        app.router.add_get("/_mock/health", self._operator(self.health_view))
        app.router.add_route("*", "/{tail:.*}", self.other)
        return app

    # what the run found ----------------------------------------------------------------------

    def har(self) -> dict[str, Any]:
        """The journal's entries as HAR (the newest ``[journal] max_entries``; the comment says
        how many older ones it lacks)."""
        jobs = self.jobs.values()
        return proxy_har(self.journal, jobs, self.upstream.shown, self.journal.dropped)

    def finish_recording(self) -> None:
        if self.recording is not None:
            self.recording.finish(self.jobs.values(), self.upstream.shown)

    def entries(self) -> list[JournalEntry]:
        return list(self.journal)

    def _report(self, drifts: list[Drift], evidence: Evidence) -> None:
        for record in self.drifts.observe(drifts, evidence):
            print(f"mockgateway proxy: {record.line()}", file=self.log, flush=True)

    def _evidence(
        self, method: str, path: str, status: int | None, raw: bytes, key: str | None,
        request_id: str | None, at: float,
    ) -> Evidence:  # fmt: skip
        body, _ = kept_body(raw[:2048], key)
        text = body if isinstance(body, str) else json.dumps(body)
        return Evidence(
            at=_now_iso(at), method=method, path=scrub(path, key), status=status,
            request_id=request_id, body=text[:1024],
        )  # fmt: skip

    def _journal(self, **fields: Any) -> None:
        if self.journal.enabled or self.recording is not None:
            kept = entry(self.journal.next_seq(), **fields)
            if self.journal.enabled:
                self.journal.append(kept)
            if self.recording is not None:
                self.recording.add(kept)

    # forwarding ------------------------------------------------------------------------------

    def _proxied_url(self, request: web.Request, url: str) -> str:
        """An upstream URL on the upstream's origin, moved onto the proxy's own address (never
        the request's ``Host``); any other as it is."""
        if not self.upstream.on_origin(url):
            return url
        return (self.public_url or _bound_url(request)) + URL(url).raw_path_qs

    def _to_client(self, request: web.Request, headers: Mapping[str, str], names: tuple[str, ...]
                   ) -> dict[str, str]:  # fmt: skip
        """The headers passed on, a ``Location`` on the upstream's host moved onto the proxy."""
        picked = _pick(headers, names)
        for name, value in list(picked.items()):
            if name.lower() == "location":
                try:
                    absolute = str(URL(self.upstream.base).join(URL(value)))
                except ValueError:
                    continue  # passed on as it came
                if self.upstream.on_origin(absolute):
                    self._remember_media(absolute)
                    picked[name] = self._proxied_url(request, absolute)
        return picked

    def _answer(self, request: web.Request, status: int, headers: Mapping[str, str], raw: bytes
                ) -> web.Response:  # fmt: skip
        return web.Response(
            status=status, body=raw, headers=self._to_client(request, headers, _TO_CLIENT)
        )

    def _remember_media(self, url: str) -> None:
        """Serve ``url``'s path (on the upstream's host) through the proxy, as the client was
        told to fetch it there."""
        path = URL(url).raw_path
        self.media_paths[path] = None
        self.media_paths.move_to_end(path)
        while len(self.media_paths) > MAX_MEDIA_PATHS:
            self.media_paths.popitem(last=False)

    def _operator(self, handler: Handler) -> Handler:
        token = self.settings.operator_token
        if token is None:
            return handler

        async def guarded(request: web.Request) -> web.StreamResponse:
            if not shows_token(request.headers.get("Authorization"), token):
                error = operator_token_required()
                return _json_answer(error.status, error.body, **error.headers)
            return await handler(request)

        return guarded

    async def _exchange(
        self, request: web.Request, route: Route, operation: str, body: bytes,
        *, upstream_headers: dict[str, str], request_id: str | None, model_id: str | None = None,
        notes: tuple[str, ...] = (),
    ) -> tuple[int | None, dict[str, str], bytes, float, int | None]:  # fmt: skip
        """Forward one JSON exchange and judge the answer: the status, headers and body to pass
        on (None as the status: no answer), when it started, and the upstream's own status."""
        key = request.headers.get(KEY_HEADER)
        started = time.time()
        try:
            status, headers, raw = await self.upstream.exchange(
                request.method, request.path_qs, upstream_headers, body or None
            )
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            message = f"the upstream did not answer: {type(exc).__name__}: {exc}".rstrip(": ")
            answer = {"error": "Bad Gateway", "message": message}
            raw = json.dumps(answer).encode()
            self._journal(
                route=route, method=request.method, url=str(request.url), path=request.path,
                headers=dict(request.headers), key=key, request_id=request_id, model_id=model_id,
                body=body, status=502, response_headers={"Content-Type": "application/json"},
                response_body=raw, started_at=started, finished_at=time.time(),
                notes=(*notes, LOCAL_NOTE),
            )  # fmt: skip
            return None, {"Content-Type": "application/json"}, raw, started, None
        if len(raw) > MAX_ANSWER_BYTES:
            self._report(
                [too_large(operation, status, MAX_ANSWER_BYTES)],
                self._evidence(request.method, request.path, status, raw, key, request_id, started),
            )
            message = (
                f"the upstream's answer ({status}) was too large: over {MAX_ANSWER_BYTES} bytes, "
                "more than the proxy reads; it is not passed on"
            )
            big = json.dumps({"error": "Bad Gateway", "message": message}).encode()
            return 502, {"Content-Type": "application/json"}, big, started, status
        drifts = answer_drifts(operation, status, headers, raw)
        if drifts:
            evidence = self._evidence(
                request.method, request.path, status, raw, key, request_id, started
            )
            self._report(drifts, evidence)
        return status, headers, raw, started, status

    async def generate(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get(KEY_HEADER)
        model_id = request.match_info["model_id"]
        body = await read_prefix(request.content, MAX_BODY_BYTES + 1)
        started = time.time()

        def local(status: int, answer: dict[str, Any], note: str) -> web.Response:
            raw = json.dumps(answer).encode()
            self._journal(
                route="generate", method="POST", url=str(request.url), path=request.path,
                headers=dict(request.headers), key=key, model_id=model_id, body=body,
                status=status, response_headers={"Content-Type": "application/json"},
                response_body=raw, started_at=started, finished_at=time.time(),
                notes=(note, LOCAL_NOTE),
            )  # fmt: skip
            return _json_answer(status, answer)

        if len(body) > MAX_BODY_BYTES:
            message = f"the body is over {MAX_BODY_BYTES} bytes"
            return local(400, {"error": "Bad Request", "message": message}, "body too large")
        try:
            hook = parse_webhook_url(request.headers.get("X-Webhook-URL"))
        except ApiError as exc:  # the gateway's own 400: never billed for a callback it refuses
            return local(exc.status, exc.body, "webhook")
        hook_host = _host(hook) if hook is not None else None
        if hook is not None and not may_look_up(hook_host or "", self.hook_policy):
            message = (
                f"X-Webhook-URL: host {hook_host!r} is not allowed by the proxy's "
                "[webhooks] allow_hosts, so its callbacks could never be delivered; the "
                "generate is not sent upstream"
            )
            return local(400, {"error": "Bad Request", "message": message}, "webhook")
        model = self.spend.models.get(model_id)
        resolution = model.resolution_in(_object(body) or {}) if model else _resolution(body)
        refusal = self.spend.check(model_id, resolution)
        if refusal is not None:
            print(f"mockgateway proxy: generate refused: {refusal}", file=self.log, flush=True)
            message = f"mockgateway proxy: {refusal}"
            return local(402, {"error": "Payment Required", "message": message}, "spend guard")
        headers = _pick(request.headers, _TO_UPSTREAM)
        token = None
        if hook is not None:
            base = self.settings.webhook_base_url
            if base is None:
                message = (
                    "X-Webhook-URL: the proxy relays callbacks only when started with "
                    "--webhook-base-url (an address of the proxy the upstream can reach)"
                )
                return local(400, {"error": "Bad Request", "message": message}, "webhook")
            token = secrets.token_urlsafe(18)
            headers["X-Webhook-URL"] = base.rstrip("/") + RELAY_PREFIX + token
        held = self.spend.reserve(model_id, resolution)
        try:
            status, up_headers, raw, started, upstream_status = await self._exchange(
                request, "generate", "generate", body, upstream_headers=headers,
                request_id=None, model_id=model_id,
            )  # fmt: skip
        finally:
            self.spend.release(held)
        if status is None:
            return _json_answer(502, json.loads(raw))
        request_id, answer = None, raw
        data = _object(raw) if status == upstream_status else None
        if upstream_status is not None and 200 <= upstream_status < 300:
            # any success may have started a paid job: counted at its most until known
            request_id = _str(data.get("request_id")) if data is not None else None
            if request_id is None or request_id in self.spend.jobs:
                self.unidentified += 1
                self.spend.accepted(f"<unidentified {self.unidentified}>", model_id, resolution)
                print(
                    f"mockgateway proxy: generate answered {upstream_status} without a request "
                    "id the proxy can read; counted at the most it can cost for the rest of the "
                    "run",
                    file=self.log,
                    flush=True,
                )
                request_id = None
            else:
                self.spend.accepted(request_id, model_id, resolution)
        if request_id is not None and data is not None:
            job = TrackedJob(
                request_id=request_id, model_id=model_id, resolution=resolution,
                submitted_at=started, client_webhook=hook,
            )  # fmt: skip
            job.observe(data, started, "generate")
            self.jobs[request_id] = job  # each one paid for: as many as the budget allows
            self.keys[request_id] = key
            if token is not None:
                self.hooks[token] = request_id
            if isinstance(data.get("polling_url"), str):
                data["polling_url"] = self._proxied_url(request, data["polling_url"])
                answer = json.dumps(data).encode()
        self._journal(
            route="generate", method="POST", url=str(request.url), path=request.path,
            headers=dict(request.headers), key=key, request_id=request_id, model_id=model_id,
            body=body, status=status, response_headers=_pick(up_headers, _TO_CLIENT),
            response_body=answer, started_at=started, finished_at=time.time(),
        )  # fmt: skip
        return self._answer(request, status, up_headers, answer)

    async def status(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get(KEY_HEADER)
        request_id = request.match_info["request_id"]
        status, headers, raw, started, _ = await self._exchange(
            request, "status", "getStatus", b"",
            upstream_headers=_pick(request.headers, _TO_UPSTREAM), request_id=request_id,
        )  # fmt: skip
        if status is None:
            return _json_answer(502, json.loads(raw))
        answer, billing = raw, None
        data = _object(raw)
        if status == 200 and data is not None:
            self._observe(request_id, data, started, "getStatus", request.method, request.path,
                          raw, key)  # fmt: skip
            answer = self._rewrite_output(request, data) or raw
            job = self.jobs.get(request_id)
            if job is not None and job.status in ("COMPLETED", "FAILED", "ERROR"):
                billing = self.spend.billing(request_id)
        self._journal(
            route="status", method=request.method, url=str(request.url), path=request.path,
            headers=dict(request.headers), key=key, request_id=request_id, status=status,
            response_headers=_pick(headers, _TO_CLIENT), response_body=answer,
            started_at=started, finished_at=time.time(), billing=billing,
        )  # fmt: skip
        return self._answer(request, status, headers, answer)

    def _observe(
        self, request_id: str, data: dict[str, Any], now: float, operation: str, method: str,
        path: str, raw: bytes, key: str | None,
    ) -> None:  # fmt: skip
        job = self.jobs.get(request_id)
        if job is None and len(self.jobs) >= MAX_JOBS:
            return
        if job is None:  # a job submitted before the proxy started, or through another way
            job = self.jobs[request_id] = TrackedJob(
                request_id=request_id, model_id=_str(data.get("model_id")), resolution=None,
                submitted_at=now,
            )  # fmt: skip
        drift = job.observe(data, now, operation)
        if drift is not None:
            self._report([drift], self._evidence(method, path, 200, raw, key, request_id, now))
        if job.status is not None:
            self.spend.observed(request_id, job.status)
        output = data.get("output")
        urls = output.get("media_url") if isinstance(output, dict) else None
        if job.status == "COMPLETED" and isinstance(urls, list) and urls:
            first = urls[0]
            if isinstance(first, str) and job.media_url is None and self.upstream.on_origin(first):
                job.media_url = first
                self._spawn(self._measure(job, first))

    def _rewrite_output(self, request: web.Request, data: dict[str, Any]) -> bytes | None:
        output = data.get("output")
        urls = output.get("media_url") if isinstance(output, dict) else None
        if not isinstance(output, dict) or not isinstance(urls, list):
            return None
        for url in urls:
            if isinstance(url, str) and self.upstream.on_origin(url):
                self._remember_media(url)
        output["media_url"] = [
            self._proxied_url(request, u) if isinstance(u, str) else u for u in urls
        ]
        return json.dumps(data).encode()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _measure(self, job: TrackedJob, url: str) -> None:
        """Read the output's length from the upstream's copy (what the job is billed)."""
        seconds = await self.upstream.output_seconds(url)
        if seconds is not None:
            job.output_seconds = seconds
            self.spend.measured(job.request_id, seconds)

    async def media(self, request: web.Request) -> web.StreamResponse:
        key = request.headers.get(KEY_HEADER)
        request_id = request.match_info.get("request_id")
        headers = _pick(request.headers, (*_MEDIA_TO_UPSTREAM, KEY_HEADER))
        headers["Accept-Encoding"] = "identity"  # the bytes and Content-Length as stored
        started = time.time()
        response = web.StreamResponse()
        status: int | None = None
        up_headers: dict[str, str] = {}
        error = None
        try:
            async with self.upstream.stream(request.method, request.path_qs, headers) as upstream:
                status, up_headers = upstream.status, dict(upstream.headers)
                drifts = answer_drifts("getMedia", status, up_headers, b"", head=True)
                if drifts:
                    evidence = self._evidence(
                        request.method, request.path, status, b"", key, request_id, started
                    )
                    self._report(drifts, evidence)
                response.set_status(status)
                passed = self._to_client(request, up_headers, (*_TO_CLIENT, "Content-Length"))
                response.headers.update(passed)
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(CHUNK):
                    await response.write(chunk)
                await response.write_eof()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            if not response.prepared:
                message = f"the upstream did not answer: {error}"
                response = _json_answer(502, {"error": "Bad Gateway", "message": message})
                status = 502
        self._journal(
            route="media", method=request.method, url=str(request.url), path=request.path,
            headers=dict(request.headers), key=key, request_id=request_id, status=status,
            response_headers=_pick(up_headers, (*_TO_CLIENT, "Content-Length")),
            response_body=None, started_at=started, finished_at=time.time(), error=error,
        )  # fmt: skip
        return response

    async def relay(self, request: web.Request) -> web.StreamResponse:
        """A callback from the upstream: judged, then delivered to the client's receiver; the
        receiver's status goes back to the upstream, so it retries as it would."""
        request_id = self.hooks.get(request.match_info["token"])
        raw = await read_prefix(request.content, MAX_ANSWER_BYTES)
        now = time.time()
        if request_id is None:
            return _json_answer(404, {"error": "Not Found", "message": "unknown relay address"})
        job = self.jobs[request_id]
        key = self.keys.get(request_id)
        drifts = webhook_drifts(raw)
        path = f"{RELAY_PREFIX}<token> for {request_id}"
        if drifts:
            self._report(drifts, self._evidence("POST", path, None, raw, key, request_id, now))
        data = _object(raw)
        forwarded = raw
        if data is not None:
            self._observe(request_id, data, now, "webhook", "POST", path, raw, key)
            rewritten = self._rewrite_output(request, data)
            forwarded = rewritten if rewritten is not None else raw
        assert job.client_webhook is not None
        host = _host(job.client_webhook) or ""
        if may_look_up(host, self.hook_policy):
            status, answer, error = await self.receivers.deliver(job.client_webhook, forwarded)
        else:  # never resolved: a name the policy refuses causes no lookup at all
            status, answer = None, b""
            error = f"blocked: host {host!r} is not allowed (webhooks.allow_hosts)"
        billing = (
            self.spend.billing(request_id)
            if job.status in ("COMPLETED", "FAILED", "ERROR")
            else None
        )
        self._journal(
            kind="webhook", route="webhook", method="POST", url=job.client_webhook,
            path=URL(job.client_webhook).path, headers={"Content-Type": "application/json"},
            key=key, request_id=request_id, model_id=job.model_id, body=forwarded, status=status,
            response_headers={}, response_body=answer, started_at=now, finished_at=time.time(),
            error=error, billing=billing,
        )  # fmt: skip
        if status is None:
            return _json_answer(502, {"error": "Bad Gateway", "message": f"receiver: {error}"})
        return web.Response(status=status if 200 <= status < 600 else 502)

    async def other(self, request: web.Request) -> web.StreamResponse:
        """Anything the doc does not describe is not sent upstream, but for the media paths the
        upstream's answers named (where the client was sent to fetch them)."""
        if request.method in ("GET", "HEAD") and request.raw_path.split("?")[0] in self.media_paths:
            return await self.media(request)
        started = time.time()
        answer = {"statusCode": 404, "message": "Resource not found"}
        raw = json.dumps(answer).encode()
        self._journal(
            route="other", method=request.method, url=str(request.url), path=request.path,
            headers=dict(request.headers), key=request.headers.get(KEY_HEADER), status=404,
            response_headers={"Content-Type": "application/json"}, response_body=raw,
            started_at=started, finished_at=time.time(), notes=(LOCAL_NOTE,),
        )  # fmt: skip
        return _json_answer(404, answer)

    # the operator's view ---------------------------------------------------------------------

    async def drift_view(self, request: web.Request) -> web.StreamResponse:
        return _json_answer(200, self.drifts.to_dict())

    async def spend_view(self, request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0)
        return _json_answer(200, {**self.spend.to_dict(), "summary": self.spend.summary()})

    async def journal_view(self, request: web.Request) -> web.StreamResponse:
        entries = [e.to_dict() for e in self.journal]
        return _json_answer(200, {"entries": entries, "dropped": self.journal.dropped})

    async def har_view(self, request: web.Request) -> web.StreamResponse:
        return _json_answer(200, self.har())

    async def health_view(self, request: web.Request) -> web.StreamResponse:
        return _json_answer(
            200, {"status": "ok", "upstream": self.upstream.shown, "jobs": len(self.jobs)}
        )


def _host(url: str) -> str | None:
    try:
        return URL(url).host
    except ValueError:
        return None


def _bound_url(request: web.Request) -> str:
    """The address the request came in on (its socket's, not its ``Host`` header)."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if not sockname:
        return "http://127.0.0.1"
    host, port = sockname[0], sockname[1]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _object(raw: bytes) -> dict[str, Any] | None:
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        data = json.loads(raw)
        return data if isinstance(data, dict) else None
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _resolution(body: bytes) -> str | None:
    data = _object(body)
    return _str(data.get("resolution")) if data else None
