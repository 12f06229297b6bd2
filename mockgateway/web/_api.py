"""The gateway's documented routes: generate, status and media, and the bundled samples; thin
handlers that parse, call the gateway and serialise."""

from __future__ import annotations

from aiohttp import web

from .._errors import link_expired, method_not_allowed, not_found, resource_not_found
from .._jobs import Status
from .._jsonfmt import quoted, template_json
from .._validation import parse_webhook_url
from ..media import media_response, sample_response, samples_index
from ..models import parse_request
from ._bind import endpoint
from ._exchange import Exchange, base_url, json_answer, read_body


@endpoint("generate")
async def generate(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    wallet = await gateway.accounts.authenticate(ex.key)
    model_id = request.match_info["model_id"]
    ex.model_id = model_id
    lifecycle = gateway.lifecycle
    model = lifecycle.model(model_id)
    if request.match_info["operation"] != model.operation:
        raise resource_not_found()
    config = gateway.config
    raw = await read_body(request, ex, config.server.max_body_bytes)
    parsed = parse_request(model, raw, max_bytes=config.server.max_body_bytes)
    webhook_url = parse_webhook_url(request.headers.get("X-Webhook-URL"))
    if parsed.extra_fields:
        ignored = ", ".join(parsed.extra_fields)
        ex.notes = (f"undocumented fields ignored: {ignored}",)
    origin = base_url(request, config.server.public_base_url)
    media_base = config.server.media_base_url
    job = await lifecycle.submit(
        wallet,
        model,
        parsed,
        webhook_url=webhook_url,
        media_base_url=base_url(request, media_base) if media_base else origin,
        scenario=ex.scenario,
    )
    request_id = ex.request_id = job.request_id
    ex.notes += lifecycle.input_notes(job) + lifecycle.plan_notes(job)
    polling_url = f"{origin}/v2/requests/status/{request_id}"
    return json_answer(ex, 202, None, raw=accepted_body(request_id, job.status, polling_url))


def accepted_body(request_id: str, status: Status, polling_url: str) -> bytes:
    """The 202's body, from a template: byte for byte what ``dumps`` writes of the doc's three
    fields, without building them into a dict first (every generate answers one)."""
    state = status._value_
    return template_json(
        f'{{"request_id": {quoted(request_id)}, "status": "{state}",'
        f' "polling_url": {quoted(polling_url)}}}',
        lambda: {"request_id": request_id, "status": state, "polling_url": polling_url},
    )


@endpoint("status")
async def status(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    accounts, key = gateway.accounts, ex.key
    if not accounts.admitted(key):  # no wallet: only a submitter has jobs to poll
        key = await accounts.admit(key)
    request_id = request.match_info["request_id"]
    ex.request_id = request_id
    raw, job = await gateway.lifecycle.poll(key, request_id)
    if job.status.terminal:  # its money is settled: the journal shows the bill
        ex.billed = job
    return json_answer(ex, 200, None, raw=raw)


@endpoint("media")
async def media(request: web.Request, ex: Exchange) -> web.StreamResponse:
    gateway = ex.gateway
    request_id = request.match_info["request_id"]
    ex.request_id = request_id
    job = await gateway.store.get_job(request_id)
    lifecycle = gateway.lifecycle
    filename = request.match_info["filename"]
    if job is None and await lifecycle.forgotten(request_id, filename):
        raise link_expired()  # retention let it go
    if job is None or filename != lifecycle.job_filename(job):
        raise not_found(f"No media at {request.path}")
    file = await gateway.lifecycle.media_file(request_id)
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
        raise method_not_allowed(request.method, request.path, shown)
    if request.path.startswith("/_mock/"):  # the operator API answers in the gateway's shape
        raise not_found(f"No operator route at {request.path}")
    raise resource_not_found()
