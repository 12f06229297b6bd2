"""``GET /_mock/verdict``: the client checker's verdict over the journal so far.

The same rules ``mockgateway check`` applies after a run (:func:`mockgateway.checker.check`),
applied now to what the gateway has journaled, with each job's billing as the gateway holds it.
The dashboard's contract view reads it.

The answer is bounded whatever the gateway holds (:func:`bounded`): a rule shows its first
violations and a violation its first evidence, each with the count of all of them. It carries an
``ETag`` made of what the verdict depends on (the journal's sequence and size, the jobs' counts
by status): a reader sending it back in ``If-None-Match`` gets a 304 while nothing moved, and the
verdict is judged again only once something did (in a worker thread, over a copy of the
journal, so the gateway's own clients are answered meanwhile).
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web

from .._clock import ClockMode
from .._gateway import Gateway
from ..checker._engine import check
from ..checker._settings import CheckerSettings
from ._bind import Routes, endpoint
from ._exchange import Exchange, json_answer

VIOLATIONS_SHOWN = 20  # a rule's first violations in the answer
EVIDENCE_SHOWN = 20  # journal entries shown as evidence per rule (at least one per violation)
JOBS_SHOWN = 20  # the cost's first jobs


@dataclass(slots=True)
class _Cached:
    etag: str = ""
    verdict: asyncio.Task[dict[str, Any]] | None = None  # readers asking at once share it


# each gateway's last verdict (a gateway serving several applications shares it)
_CACHE: weakref.WeakKeyDictionary[Gateway, _Cached] = weakref.WeakKeyDictionary()


def bounded(verdict: dict[str, Any]) -> dict[str, Any]:
    """``verdict`` (a :meth:`Verdict.to_dict`) cut to a size that does not grow with the journal:
    ``violations_total`` on a rule and ``evidence_total`` on a violation say how many there are,
    ``per_job_total`` on the cost how many jobs it lists in full."""
    for rule in verdict["rules"]:
        violations = rule["violations"]
        rule["violations_total"] = len(violations)
        rule["violations"] = shown = violations[:VIOLATIONS_SHOWN]
        budget = EVIDENCE_SHOWN
        for violation in shown:
            evidence = violation["evidence"]
            violation["evidence_total"] = len(evidence)
            violation["evidence"] = evidence[: max(budget, 1)]
            budget -= len(violation["evidence"])
    cost = verdict["cost"]
    cost["per_job_total"] = len(cost["per_job"])
    cost["per_job"] = cost["per_job"][:JOBS_SHOWN]
    return verdict


async def _etag(gateway: Gateway) -> str:
    store = gateway.store
    journal = await store.journal_stats()
    counts = sorted((str(status), n) for status, n in (await store.job_counts()).items())
    state = repr((journal.last_seq, journal.entries, journal.dropped, counts))
    return '"' + hashlib.sha256(state.encode()).hexdigest()[:24] + '"'


async def _verdict(gateway: Gateway) -> dict[str, Any]:
    settings = CheckerSettings()
    clock = gateway.config.clock
    if clock.mode is ClockMode.SCALED:  # a receiver's answer time is real time, stretched
        settings = settings.at_speed(clock.speed)
    journal, bills = await gateway.journal(), await gateway.bills()
    models = gateway.config.models

    def judge() -> dict[str, Any]:  # pure, over copies: the event loop goes on serving meanwhile
        return bounded(check(journal, settings, billing=bills, models=models).to_dict())

    return await asyncio.to_thread(judge)


@endpoint("admin")
async def get_verdict(request: web.Request, ex: Exchange) -> web.StreamResponse:
    gateway = ex.gateway
    cache = _CACHE.setdefault(gateway, _Cached())
    etag = await _etag(gateway)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get(hdrs.IF_NONE_MATCH, "").split(", "):
        return web.Response(status=304, headers=headers)
    task = cache.verdict
    failed = task is not None and task.done() and (task.cancelled() or task.exception())
    if cache.etag != etag or task is None or failed:  # something moved: judged again
        task = asyncio.ensure_future(_verdict(gateway))
        cache.etag, cache.verdict = etag, task
    return json_answer(ex, 200, await asyncio.shield(task), headers)


def add_verdict_routes(r: Routes) -> None:
    r.get("/_mock/verdict", get_verdict, "admin.verdict")
