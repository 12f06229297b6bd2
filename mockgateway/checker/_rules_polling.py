"""Rules about following a job: poll pace, the polling URL, stopping, and fetching the result.

All times are the gateway's, so under a scaled clock a client that sleeps 5 s of scaled time
passes and one that sleeps 5 real seconds is merely slow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from typing import Any

from .._journal import JournalEntry
from ._model import Finding, Rule, Severity, Source
from ._settings import CheckerSettings
from ._view import (
    TERMINAL_STATUSES,
    JournalView,
    as_json,
    job_status,
    request_id_of,
    response_json,
    url_path,
)

MAX_EVIDENCE = 8


def _poll_interval(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    floor = settings.min_poll_interval - settings.tolerance
    for client in view.clients:
        for rid, polls in view.polls(client).items():
            short: list[tuple[JournalEntry, JournalEntry, float]] = []
            judged = 0
            for before, after in itertools.pairwise(polls):
                if before.status != 200 or before.error is not None:
                    continue  # a retry of a refused or broken poll: the retry rules judge it
                judged += 1
                gap = after.started_at - before.started_at
                if gap < floor:
                    short.append((before, after, gap))
            if not short:
                continue
            closest = min(gap for _, _, gap in short)
            cited: dict[int, JournalEntry] = {}
            for before, after, _ in short:
                cited.setdefault(before.seq, before)
                cited.setdefault(after.seq, after)
            yield Finding(
                f"request {rid} was polled {len(polls)} times; {len(short)} of "
                f"{judged} gaps were under {settings.min_poll_interval:g} s, "
                f"the shortest {closest:.3f} s",
                tuple(sorted(cited.values(), key=lambda e: e.started_at)[:MAX_EVIDENCE]),
                client,
            )


def _mentions(entry: JournalEntry, known: Mapping[str, Any]) -> str | None:
    rid = request_id_of(entry)
    if rid is not None:
        return rid
    for segment in entry.path.split("/"):
        if segment in known:
            return segment
    return None


def _polling_url(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client, entries in view.by_client.items():
        for e in entries:
            if e.route not in ("status", "other") or e.method != "GET":
                continue
            rid = _mentions(e, view.submissions)
            if rid is None:
                continue
            sub = view.submissions.get(rid)
            if sub is None:
                if e.route == "status" and e.status == 404:
                    yield Finding(
                        f"polled request id {rid!r}, which the gateway never gave it",
                        (e,),
                        client,
                    )
                continue
            if sub.polling_url is None or sub.entry.key != client:
                continue
            if url_path(e.url or e.path) != url_path(sub.polling_url):
                yield Finding(
                    f"polled {url_path(e.url or e.path)} instead of the polling_url "
                    f"{sub.polling_url} it was given for {rid}",
                    (sub.entry, e),
                    client,
                )


def _seen_terminal(
    view: JournalView, client: str | None
) -> dict[str, tuple[float, JournalEntry, str]]:
    """For each job, when the client first learnt it was terminal, how, and which status."""
    seen: dict[str, tuple[float, JournalEntry, str]] = {}
    sources: list[JournalEntry] = [
        e
        for e in view.by_client.get(client, ())
        if e.route == "status" and e.status == 200 and e.error is None
    ]
    sources.extend(view.delivered_webhooks(client))
    for e in sources:
        status = job_status(e)
        rid = request_id_of(e)
        if rid is None or status not in TERMINAL_STATUSES:
            continue
        if rid not in seen or e.finished_at < seen[rid][0]:
            seen[rid] = (e.finished_at, e, status)
    return seen


def _after_terminal(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client in view.clients:
        seen = _seen_terminal(view, client)
        for rid, polls in view.polls(client).items():
            if rid not in seen:
                continue
            moment, proof, status = seen[rid]
            late = [p for p in polls if p.started_at > moment and p is not proof]
            if late:
                yield Finding(
                    f"request {rid} was polled {len(late)} more time(s) after the client "
                    f"had seen it {status}",
                    (proof, *late[: MAX_EVIDENCE - 1]),
                    client,
                )


def _media_paths(proof: JournalEntry) -> list[str]:
    data = as_json(proof.body) if proof.kind == "webhook" else response_json(proof)
    if not isinstance(data, Mapping):
        return []
    output = data.get("output")
    urls = output.get("media_url") if isinstance(output, Mapping) else None
    if not isinstance(urls, list):
        return []
    return [url_path(u) for u in urls if isinstance(u, str)]


def _download(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    fetched = {
        url_path(e.url or e.path)
        for e in view.requests
        if e.route == "media" and e.method in ("GET", "HEAD")
    }
    for client in view.clients:
        for rid, (_moment, proof, status) in _seen_terminal(view, client).items():
            if status != "COMPLETED":
                continue
            paths = set(_media_paths(proof))
            if not paths:
                continue
            if not paths & fetched:
                yield Finding(
                    f"request {rid} COMPLETED but its output.media_url was never downloaded",
                    (proof,),
                    client,
                )


POLL_INTERVAL_RULE = Rule(
    id="poll-interval",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement="Polls of one request come no closer than 5 s apart (the doc: poll every 5-10 s).",
    how_to_fix="Sleep at least 5 s between status polls of a request, or use X-Webhook-URL.",
    check=_poll_interval,
)
POLLING_URL_RULE = Rule(
    id="poll-polling-url",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement="The client polls the polling_url the 202 answer gave it.",
    how_to_fix="Keep the 202 answer's polling_url (or request_id) and GET exactly that URL.",
    check=_polling_url,
)
AFTER_TERMINAL_RULE = Rule(
    id="poll-after-terminal",
    severity=Severity.ERROR,
    source=Source.RECOMMENDATION,
    statement="No polling of a request after the client has seen it COMPLETED, FAILED or ERROR.",
    how_to_fix="Stop the polling loop as soon as status is COMPLETED, FAILED or ERROR.",
    check=_after_terminal,
)
DOWNLOAD_RULE = Rule(
    id="download-output",
    severity=Severity.WARNING,
    source=Source.DOC,
    statement="After COMPLETED, the client downloads the output from output.media_url.",
    how_to_fix="GET each output.media_url once the status is COMPLETED (it is what you paid for).",
    check=_download,
)

POLLING_RULES = (POLL_INTERVAL_RULE, POLLING_URL_RULE, AFTER_TERMINAL_RULE, DOWNLOAD_RULE)
