"""The operator's API under ``/_mock/``: health, reset, wallets, jobs, journal and the clock.

Never on the gateway's own paths; answers JSON; errors in the gateway's
``{"error", "message"}`` shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, get_args

from aiohttp import web

from .. import __version__
from .._billing import money_str, parse_money
from .._bodyparse import json_body
from .._errors import ApiError, bad_request, gateway_error, request_not_found
from .._gateway import Gateway
from .._har import to_har
from .._jobs import Job, Status, billing_record, status_body
from .._journal import JournalEntry, Route, redact_key
from ._admin_metrics import metrics
from ._bind import Routes, endpoint
from ._exchange import Exchange, json_answer, read_body

MAX_ADVANCE_SECONDS = 1_000_000_000  # about 31 years: timestamps stay within what they can show


async def json_object_body(
    request: web.Request,
    ex: Exchange,
    *,
    limit: int = 1024 * 1024,
    example: str = "",
) -> dict[str, Any]:
    """An operator request's JSON object body; an empty body is ``{}``. ``example`` (such as
    ``{"message": "..."}``) is shown in the 400 for a body that is not an object."""
    raw = await read_body(request, ex, limit)
    if not raw.strip():
        return {}
    data = json_body(raw, max_bytes=limit)
    if not isinstance(data, dict):
        shown = f", e.g. {example}" if example else ""
        raise bad_request(f"request body must be a JSON object{shown}")
    return data


def _job_view(job: Job) -> dict[str, Any]:
    view = status_body(job)
    view["key"] = redact_key(job.key)
    view["resolution"] = job.resolution
    view["image_url"] = job.image_url
    view["audio_url"] = job.audio_url
    view["webhook_url"] = job.webhook_url
    view["duration_seconds"] = job.duration_seconds
    view["cost"] = money_str(job.cost) if job.cost is not None else None
    view["polls"] = job.polls
    view["notes"] = list(job.notes)
    view["history"] = [{"status": s.value, "at": t} for s, t in job.history]
    view["billing"] = billing_record(job)
    return view


def job_detail(gateway: Gateway, job: Job) -> dict[str, Any]:
    """One job as the operator sees it: its view and its webhook deliveries so far."""
    view = _job_view(job)
    view["webhooks"] = [
        {"url": d.url, "attempts": d.attempts, "delivered": d.delivered, "outcomes": d.outcomes}
        for d in gateway.webhooks.deliveries
        if d.request_id == job.request_id
    ]
    return view


@endpoint("admin")
async def health(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    journal = gateway.journal
    return json_answer(
        ex,
        200,
        {
            "status": "ok",
            "version": __version__,
            "clock": {"mode": gateway.clock.mode.value, "now": gateway.clock.now()},
            "jobs": len(gateway.jobs),
            "scheduled": len(gateway.scheduler),
            "journal": {
                "enabled": journal.enabled,
                "entries": len(journal),
                "max_entries": journal.max_entries,
                "dropped": journal.dropped,
                "bytes": journal.kept_bytes,
                "max_bytes": journal.max_bytes,
                "max_body_bytes": journal.max_body_bytes,
                "last_seq": journal.last_seq,  # where a reader of the latest entries starts
            },
        },
    )


@endpoint("admin")
async def reset(request: web.Request, ex: Exchange) -> web.Response:
    ex.gateway.reset()
    return json_answer(ex, 200, {"reset": True})


@endpoint("admin")
async def list_wallets(request: web.Request, ex: Exchange) -> web.Response:
    wallets = ex.gateway.wallets.values()
    return json_answer(ex, 200, {"wallets": [w.to_dict() for w in wallets]})


@endpoint("admin")
async def get_wallet(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    key = request.match_info["key"]
    wallet = gateway.wallets.get(key)
    if wallet is None:
        try:
            wallet = gateway.authenticate(key)
        except ApiError:
            raise gateway_error(
                404, "Wallet not found", f"No wallet for key '{redact_key(key)}'"
            ) from None
    return json_answer(ex, 200, wallet.to_dict())


@endpoint("admin")
async def put_wallet(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    body = await json_object_body(request, ex)  # numbers keep their text: money is never rounded
    if "balance" not in body:
        raise bad_request('balance is required, e.g. {"balance": "25.00"}')
    try:
        amount = parse_money(body["balance"])
    except ValueError as exc:
        raise bad_request(f"balance: {exc}") from None
    wallet = gateway.set_balance(request.match_info["key"], amount)
    return json_answer(ex, 200, wallet.to_dict())


PAGE_LIMIT = 1000  # jobs or journal entries in one answer, at most and by default


def _limit(query: Mapping[str, str]) -> int:
    text = query.get("limit")
    if text is None:
        return PAGE_LIMIT
    number = int(text) if text.isascii() and text.isdigit() and len(text) < 8 else 0
    if not 1 <= number <= PAGE_LIMIT:
        raise bad_request(f"limit must be a whole number from 1 to {PAGE_LIMIT}, got {text!r}")
    return number


def _cursor(query: Mapping[str, str]) -> int | None:
    text = query.get("cursor")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) < 19):
        raise bad_request(f"cursor must be a next_cursor of an earlier answer, got {text!r}")
    return int(text)


@endpoint("admin")
async def list_jobs(request: web.Request, ex: Exchange) -> web.Response:
    """Jobs newest first, a page at a time: ``total`` counts every job the filters match and
    ``next_cursor`` fetches the page after this one (null on the last)."""
    query = request.query
    wanted = query.get("status")
    if wanted is not None and wanted.upper() not in Status.__members__:
        known = ", ".join(m.value for m in Status)
        raise bad_request(f"status must be one of {known} (any case), got {wanted!r}")
    key = query.get("key")
    wanted_key = _key_match(key) if key is not None else None
    limit, before = _limit(query), _cursor(query)
    matching = [  # (position in submission order, job): a cursor is a position
        (i, j)
        for i, j in enumerate(ex.gateway.jobs.values())
        if (wanted is None or j.status.value == wanted.upper())
        and (wanted_key is None or redact_key(j.key) == wanted_key)
    ]
    older = [m for m in reversed(matching) if before is None or m[0] < before]
    page = older[:limit]
    next_cursor = str(page[-1][0]) if len(older) > limit else None
    views = [_job_view(j) for _, j in page]
    return json_answer(ex, 200, {"jobs": views, "total": len(matching), "next_cursor": next_cursor})


@endpoint("admin")
async def get_job(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    request_id = request.match_info["request_id"]
    job = gateway.jobs.get(request_id)
    if job is None:
        raise request_not_found(request_id)
    return json_answer(ex, 200, job_detail(gateway, job))


ROUTES: tuple[str, ...] = get_args(Route)
JOURNAL_FILTERS = ("since", "key", "route", "status", "request_id", "limit")


def _key_match(value: str) -> str:
    """The redacted form a ``key`` filter matches: four characters are the key's last four, a
    value already redacted (``****abcd``) is taken as is, anything else is a whole key."""
    if not value:
        raise bad_request("key must not be empty: give a key or its last four characters")
    if value.startswith("****"):
        return value
    return "****" + value if len(value) == 4 else redact_key(value) or "****"


def journal_filter(query: Mapping[str, str]) -> tuple[int, Callable[[JournalEntry], bool]]:
    """``since`` and a test for the ``key``, ``route``, ``status`` and ``request_id`` filters of
    the journal's listings (all must hold); a bad value is a 400 naming the parameter, and so is
    a parameter of another name (a misspelt filter must not list everything as if it matched)."""
    unknown = [name for name in query if name not in JOURNAL_FILTERS]
    if unknown:
        raise bad_request(
            f"unknown parameter {unknown[0]!r}: the journal takes {', '.join(JOURNAL_FILTERS)}"
        )
    tests: list[Callable[[JournalEntry], bool]] = []
    try:
        since = int(query.get("since", "0"))
    except ValueError:
        raise bad_request("since must be a whole number (a journal sequence number)") from None
    if (key := query.get("key")) is not None:
        wanted_key = _key_match(key)
        tests.append(lambda e: e.key == wanted_key)
    if (route := query.get("route")) is not None:
        if route not in ROUTES:
            raise bad_request(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
        tests.append(lambda e: e.route == route)
    if (status := query.get("status")) is not None:
        if status == "none":
            tests.append(lambda e: e.status is None)
        else:
            code = int(status) if status.isascii() and status.isdigit() else 0
            if not 100 <= code <= 599:
                raise bad_request(
                    "status must be an HTTP status from 100 to 599, or none for an exchange "
                    f"that got no answer, got {status!r}"
                )
            tests.append(lambda e: e.status == code)
    if (request_id := query.get("request_id")) is not None:
        if not request_id:
            raise bad_request("request_id must not be empty")
        tests.append(lambda e: e.request_id == request_id)
    return since, lambda e: all(test(e) for test in tests)


def _filtered(request: web.Request, ex: Exchange) -> list[JournalEntry]:
    since, keep = journal_filter(request.query)
    return [e for e in ex.gateway.journal.entries(since=since) if keep(e)]


@endpoint("admin")
async def get_journal(request: web.Request, ex: Exchange) -> web.Response:
    """Entries oldest first, at most ``limit``; ``next_since`` continues after them (null when
    none are left)."""
    limit = _limit(request.query)
    found = _filtered(request, ex)
    page = found[:limit]
    next_since = page[-1].seq if len(found) > limit else None
    entries = [e.to_dict() for e in page]
    dropped = ex.gateway.journal.dropped
    return json_answer(ex, 200, {"entries": entries, "dropped": dropped, "next_since": next_since})


@endpoint("admin")
async def get_journal_har(request: web.Request, ex: Exchange) -> web.Response:
    """The journal (filtered the same way) as HAR 1.2, for browsers' devtools and HTTP tools."""
    entries = _filtered(request, ex)
    if "limit" in request.query:
        entries = entries[: _limit(request.query)]
    ex.notes = (f"HAR of {len(entries)} journal entries",)  # the document itself is not kept
    return web.Response(
        status=200,
        body=json.dumps(to_har(entries)).encode(),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="mockgateway.har"'},
    )


@endpoint("admin")
async def clear_journal(request: web.Request, ex: Exchange) -> web.Response:
    ex.gateway.journal.clear()
    return json_answer(ex, 200, {"cleared": True})


@endpoint("admin")
async def get_clock(request: web.Request, ex: Exchange) -> web.Response:
    clock = ex.gateway.clock
    return json_answer(ex, 200, {"mode": clock.mode.value, "now": clock.now()})


@endpoint("admin")
async def advance_clock(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    body = await json_object_body(request, ex)
    seconds = body.get("seconds")
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, (int, float))
        or not 0 <= seconds <= MAX_ADVANCE_SECONDS  # also refuses NaN
    ):
        raise bad_request(
            f'seconds must be a number from 0 to {MAX_ADVANCE_SECONDS:,}, e.g. {{"seconds": 5}}'
        )
    now = await gateway.advance(float(seconds))
    return json_answer(ex, 200, {"mode": gateway.clock.mode.value, "now": now})


def add_admin_routes(r: Routes) -> None:
    r.get("/_mock/health", health, "admin.health")
    r.get("/_mock/metrics", metrics, "admin.metrics")
    r.add("POST", "/_mock/reset", reset, "admin.reset")
    r.get("/_mock/wallets", list_wallets, "admin.wallets")
    r.get("/_mock/wallets/{key}", get_wallet, "admin.wallet")
    r.add("PUT", "/_mock/wallets/{key}", put_wallet, "admin.wallet.put")
    r.get("/_mock/jobs", list_jobs, "admin.jobs")
    r.get("/_mock/jobs/{request_id}", get_job, "admin.job")
    r.get("/_mock/journal", get_journal, "admin.journal")
    r.get("/_mock/journal.har", get_journal_har, "admin.journal.har")
    r.add("DELETE", "/_mock/journal", clear_journal, "admin.journal.clear")
    r.get("/_mock/clock", get_clock, "admin.clock")
    r.add("POST", "/_mock/clock/advance", advance_clock, "admin.clock.advance")
