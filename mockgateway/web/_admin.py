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
from .._billing import WalletState, money_str, parse_money
from .._bodyparse import json_body
from .._errors import DomainError, bad_request, request_not_found, wallet_not_found
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
    view["aspect_ratio"] = job.aspect_ratio
    view["inputs"] = dict(job.inputs)
    view["webhook_url"] = job.webhook_url
    view["duration_seconds"] = job.duration_seconds
    view["cost"] = money_str(job.cost) if job.cost is not None else None
    view["polls"] = job.polls
    view["notes"] = list(job.notes)
    view["history"] = [{"status": s, "at": t} for s, t in job.history]
    view["billing"] = billing_record(job)
    return view


async def job_detail(gateway: Gateway, job: Job) -> dict[str, Any]:
    """One job as the operator sees it: its view and its webhook deliveries so far."""
    view = _job_view(job)
    view["webhooks"] = [
        {"url": d.url, "attempts": d.attempts, "delivered": d.delivered, "outcomes": d.outcomes}
        for d in await gateway.store.deliveries_of(job.request_id)
    ]
    return view


@endpoint("admin")
async def health(request: web.Request, ex: Exchange) -> web.Response:
    """Constant time whatever the gateway holds: counts kept by the store, not counted here. A
    503 while the store cannot take writes (a full disk, Redis out of memory or read-only), as
    every request that writes then answers, naming why."""
    gateway = ex.gateway
    store = gateway.store
    await store.check_writes()
    journal = await store.journal_stats()
    counts = await store.job_counts()
    return json_answer(
        ex,
        200,
        {
            "status": "ok",
            "version": __version__,
            "clock": {"mode": gateway.clock.mode.value, "now": gateway.clock.now()},
            "state": {"backend": store.kind, "shared": store.shared},
            "jobs": sum(counts.values()),
            "scheduled": await store.pending_tasks() + len(gateway.scheduler),
            "journal": {
                "enabled": store.journal_enabled,
                "entries": journal.entries,
                "max_entries": store.journal_max_entries,
                "dropped": journal.dropped,
                "bytes": journal.bytes,
                "max_bytes": store.journal_max_bytes,
                "max_body_bytes": store.journal_max_body_bytes,
                "last_seq": journal.last_seq,  # where a reader of the latest entries starts
            },
        },
    )


@endpoint("admin")
async def reset(request: web.Request, ex: Exchange) -> web.Response:
    await ex.gateway.reset()
    return json_answer(ex, 200, {"reset": True})


MAX_PAGE = 1000  # the most one listing answers; ``limit`` picks fewer


def page_limit(query: Mapping[str, str]) -> int:
    raw = query.get("limit")
    if raw is None:
        return MAX_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise bad_request(f"limit must be a whole number from 1 to {MAX_PAGE}, got {raw!r}")
    return int(raw)


def page_cursor(query: Mapping[str, str]) -> str | None:
    cursor = query.get("cursor")
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) < 20):
        raise bad_request(f"cursor must be the next_cursor of an earlier page, got {cursor!r}")
    return cursor


async def _wallet_view(
    gateway: Gateway, wallet: WalletState, query: Mapping[str, str]
) -> dict[str, Any]:
    view = wallet.to_dict()
    page = await gateway.store.ledger(
        wallet.key, limit=page_limit(query), cursor=page_cursor(query)
    )
    view["ledger"] = [e.to_dict() for e in page.items]
    view["ledger_total"] = page.total
    view["next_cursor"] = page.next_cursor
    return view


@endpoint("admin")
async def list_wallets(request: web.Request, ex: Exchange) -> web.Response:
    """Wallets with their balances (``limit`` and ``cursor`` page them; no ledgers here: each
    wallet's own address has its ledger)."""
    query = request.query
    unknown = [n for n in query if n not in ("limit", "cursor")]
    if unknown:
        raise bad_request(f"unknown parameter {unknown[0]!r}: wallets take limit, cursor")
    page = await ex.gateway.store.list_wallets(limit=page_limit(query), cursor=page_cursor(query))
    return json_answer(
        ex,
        200,
        {
            "wallets": [w.to_dict() for w in page.items],
            "total": page.total,
            "next_cursor": page.next_cursor,
        },
    )


@endpoint("admin")
async def get_wallet(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    key = request.match_info["key"]
    unknown = [n for n in request.query if n not in ("limit", "cursor")]
    if unknown:
        raise bad_request(f"unknown parameter {unknown[0]!r}: a wallet takes limit, cursor")
    wallet = await gateway.store.get_wallet(key)
    if wallet is None:
        try:
            wallet = await gateway.accounts.authenticate(key)
        except DomainError:
            raise wallet_not_found(redact_key(key)) from None
    return json_answer(ex, 200, await _wallet_view(gateway, wallet, request.query))


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
    async with gateway.store.atomic():
        wallet = await gateway.accounts.set_balance(request.match_info["key"], amount)
    return json_answer(ex, 200, await _wallet_view(gateway, wallet, {}))


JOB_FILTERS = ("status", "key", "limit", "cursor")


async def _whole_key(gateway: Gateway, value: str) -> str:
    """The whole key a ``key`` filter names: the key itself, or its last four characters (as
    ``abcd`` or ``****abcd``, the way jobs show it) when exactly one wallet's key ends so."""
    if not value:
        raise bad_request("key must not be empty: give a key or its last four characters")
    shown = _key_match(value)
    if value.startswith("****") or len(value) == 4:  # a redacted form, not a whole key
        matches: list[str] = []
        cursor: str | None = None
        while True:
            page = await gateway.store.list_wallets(limit=1000, cursor=cursor)
            matches += [w.key for w in page.items if redact_key(w.key) == shown]
            if (cursor := page.next_cursor) is None:
                break
        if len(matches) > 1:
            raise bad_request(f"several keys end in {shown[4:]!r}: give the whole key")
        if matches:
            return matches[0]
    return value


@endpoint("admin")
async def list_jobs(request: web.Request, ex: Exchange) -> web.Response:
    """Newest first, a page at a time: ``limit`` (at most 1,000), ``cursor`` (the last page's
    ``next_cursor``), ``status`` and ``key`` (a whole key) filters; ``total`` counts matches."""
    query = request.query
    unknown = [n for n in query if n not in JOB_FILTERS]
    if unknown:
        raise bad_request(f"unknown parameter {unknown[0]!r}: jobs take {', '.join(JOB_FILTERS)}")
    wanted = query.get("status")
    if wanted is not None and wanted.upper() not in Status.__members__:
        known = ", ".join(m.value for m in Status)
        raise bad_request(f"status must be one of {known} (any case), got {wanted!r}")
    key = query.get("key")
    if key is not None:
        key = await _whole_key(ex.gateway, key)
    page = await ex.gateway.store.list_jobs(
        status=Status(wanted.upper()) if wanted is not None else None,
        key=key,
        limit=page_limit(query),
        cursor=page_cursor(query),
    )
    return json_answer(
        ex,
        200,
        {
            "jobs": [_job_view(j) for j in page.items],
            "total": page.total,
            "next_cursor": page.next_cursor,
        },
    )


@endpoint("admin")
async def get_job(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    request_id = request.match_info["request_id"]
    job = await gateway.store.get_job(request_id)
    if job is None:
        raise request_not_found(request_id)
    return json_answer(ex, 200, await job_detail(gateway, job))


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
    unknown = [name for name in query if name not in JOURNAL_FILTERS]  # limit: see _filtered
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


async def _filtered(
    request: web.Request, ex: Exchange, limit: int | None
) -> tuple[list[JournalEntry], int | None]:
    """The matching entries after ``since``, oldest first, at most ``limit``; and the ``since``
    that reads on from the last one (None when there is no more)."""
    since, keep = journal_filter(request.query)
    store = ex.gateway.store
    found: list[JournalEntry] = []
    batch = 1000 if limit is None else max(limit, 100)
    while True:
        entries = await store.journal_entries(since=since, limit=batch)
        for entry in entries:
            if keep(entry):
                found.append(entry)
                if limit is not None and len(found) == limit:
                    return found, entry.seq
        if len(entries) < batch:
            return found, None
        since = entries[-1].seq


@endpoint("admin")
async def get_journal(request: web.Request, ex: Exchange) -> web.Response:
    """Entries after ``since``, oldest first; ``limit`` (at most 1,000) pages them and
    ``next_since`` reads on."""
    query = request.query
    limit = page_limit(query) if "limit" in query else None
    entries, next_since = await _filtered(request, ex, limit)
    stats = await ex.gateway.store.journal_stats()
    return json_answer(
        ex,
        200,
        {
            "entries": [e.to_dict() for e in entries],
            "dropped": stats.dropped,
            "next_since": next_since,
        },
    )


@endpoint("admin")
async def get_journal_har(request: web.Request, ex: Exchange) -> web.Response:
    """The journal (filtered the same way) as HAR 1.2, for browsers' devtools and HTTP tools."""
    entries, _ = await _filtered(request, ex, None)
    if "limit" in request.query:
        entries = entries[: page_limit(request.query)]
    ex.notes = (f"HAR of {len(entries)} journal entries",)  # the document itself is not kept
    return web.Response(
        status=200,
        body=json.dumps(to_har(entries)).encode(),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="mockgateway.har"'},
    )


@endpoint("admin")
async def clear_journal(request: web.Request, ex: Exchange) -> web.Response:
    await ex.gateway.store.journal_clear()
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
