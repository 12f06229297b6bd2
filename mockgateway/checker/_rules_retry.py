"""Rules about what a client does after an error: waiting, changing, backing off, not repeating."""

from __future__ import annotations

import email.utils
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from .._journal import JournalEntry
from ._model import Finding, Rule, Severity, Source
from ._settings import CheckerSettings
from ._view import JournalView, failed_transport, header, request_id_of, response_json

REJECTIONS = frozenset({400, 401, 402, 403})
_REPLENISH = re.compile(r"replenished in (\d+):(\d{2}):(\d{2})")


def retry_after_seconds(entry: JournalEntry) -> float | None:
    """Retry-After of an answer in seconds (delta-seconds or an HTTP date), None if absent."""
    value = header(entry, "Retry-After", response=True)
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - entry.finished_at)


def _retry_after(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client, entries in view.by_client.items():
        limited = 0
        hasty: list[tuple[JournalEntry, JournalEntry, float, float]] = []
        for i, e in enumerate(entries):
            if e.status != 429:
                continue
            wait = retry_after_seconds(e)
            if wait is None:
                continue
            following = next((n for n in entries[i + 1 :] if n.started_at >= e.finished_at), None)
            if following is None:
                continue
            limited += 1
            waited = following.started_at - e.finished_at
            if waited < wait - settings.tolerance:
                hasty.append((e, following, waited, wait))
        if not hasty:
            continue
        soonest = min(hasty, key=lambda h: h[2])
        cited: dict[int, JournalEntry] = {}
        for e, following, _, _ in hasty:
            cited.setdefault(e.seq, e)
            cited.setdefault(following.seq, following)
        yield Finding(
            f"after {len(hasty)} of {limited} answers 429 it sent its next request too soon: "
            f"as soon as {soonest[2]:.3f} s after a 429 that asked for Retry-After: {soonest[3]:g}",
            tuple(sorted(cited.values(), key=lambda x: x.started_at)[:8]),
            client,
        )


def _fingerprint(entry: JournalEntry) -> tuple[str, str, str]:
    digest = entry.body_sha256 or repr(entry.body)
    return (
        digest,
        header(entry, "X-Webhook-URL") or "",
        (header(entry, "Content-Type") or "").lower(),
    )


def _replenish_seconds(entry: JournalEntry) -> float | None:
    data = response_json(entry)
    message = data.get("message") if data else None
    match = _REPLENISH.search(message) if isinstance(message, str) else None
    if match is None:
        return None
    h, m, s = (int(g) for g in match.groups())
    return float(h * 3600 + m * 60 + s)


@dataclass
class _Chain:
    first: JournalEntry
    repeats: list[JournalEntry] = field(default_factory=list)


def _resubmit(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client, entries in view.by_client.items():
        rejected: dict[tuple[str, str, str], tuple[JournalEntry, _Chain]] = {}
        chains: list[_Chain] = []
        for g in entries:
            if g.route != "generate" or g.method != "POST":
                continue
            fp = _fingerprint(g)
            held = rejected.pop(fp, None)
            chain: _Chain | None = None
            if held is not None:
                last, chain = held
                changed = bool(view.admin_between(last.finished_at, g.started_at))
                replenish = _replenish_seconds(last) if last.status == 403 else None
                if replenish is not None and g.started_at >= last.finished_at + replenish:
                    changed = True
                if changed:
                    chain = None
                else:
                    chain.repeats.append(g)
            if g.status in REJECTIONS:
                if chain is None:
                    chain = _Chain(g)
                    chains.append(chain)
                rejected[fp] = (g, chain)
        for chain in chains:
            if chain.repeats:
                yield Finding(
                    f"resubmitted an identical generate request {len(chain.repeats)} time(s) "
                    f"after a {chain.first.status} without changing anything",
                    (chain.first, *chain.repeats[:7]),
                    client,
                )


def _server_failure(entry: JournalEntry) -> bool:
    return failed_transport(entry) or (entry.status is not None and entry.status >= 500)


def _operation(entry: JournalEntry) -> tuple[str, ...]:
    if entry.route == "generate":
        return ("generate", *_fingerprint(entry))
    if entry.route == "status":
        return ("status", request_id_of(entry) or entry.path)
    return (entry.route, entry.method, entry.path)


def _judge_backoff(chain: list[JournalEntry], settings: CheckerSettings) -> str | None:
    """Why the waits between a failure and its retries did not back off, or None if they did.

    The waits are held to a schedule: the first at least ``min_retry_delay``, each further one
    at least ``backoff_factor`` times the wait required before it, up to ``backoff_cap``. The
    schedule, not the waits measured: a client's sleeps only ever run long (a busy machine, a
    scaled clock), so a careful client is never judged by its own jitter, while a client
    retrying at once or at a fixed pace is caught as soon as the schedule passes its pace."""
    needed = settings.min_retry_delay
    for i, (before, after) in enumerate(itertools.pairwise(chain)):
        if i:
            needed = min(needed * settings.backoff_factor, settings.backoff_cap)
        gap = max(0.0, after.started_at - before.finished_at)
        if gap < needed - settings.tolerance:
            what = "retry" if i else "first retry"
            return (
                f"{what} came {gap:.3f} s after a "
                f"{before.status if before.status is not None else 'broken connection'}"
                f"{'' if before.error is None else f' ({before.error})'}; "
                f"it should have waited at least {needed:.3f} s"
            )
    return None


def _backoff(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client, entries in view.by_client.items():
        open_chains: dict[tuple[str, ...], list[JournalEntry]] = {}
        finished: list[list[JournalEntry]] = []
        for e in entries:
            if e.route == "media":
                continue
            op = _operation(e)
            chain = open_chains.get(op)
            if chain is not None:
                chain.append(e)
            if _server_failure(e):
                if chain is None:
                    open_chains[op] = [e]
            elif chain is not None:
                finished.append(open_chains.pop(op))
        finished.extend(open_chains.values())
        for chain in sorted(finished, key=lambda c: c[0].started_at):
            if len(chain) < 2:
                continue
            reason = _judge_backoff(chain, settings)
            if reason is not None:
                yield Finding(reason, tuple(chain[:8]), client)


def _duplicates(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for client, entries in view.by_client.items():
        groups: dict[tuple[str, str, str], list[JournalEntry]] = {}
        for g in entries:
            if g.route == "generate" and g.method == "POST" and g.status == 202:
                groups.setdefault(_fingerprint(g), []).append(g)
        for accepted in groups.values():
            close = [
                b
                for a, b in itertools.pairwise(accepted)
                if b.started_at - a.started_at <= settings.duplicate_window
            ]
            if close:
                yield Finding(
                    f"the same generate body was accepted (and billed) {len(close) + 1} times "
                    f"within {settings.duplicate_window:g} s",
                    tuple(accepted[:8]),
                    client,
                )


RETRY_AFTER_RULE = Rule(
    id="retry-after-429",
    severity=Severity.ERROR,
    source=Source.RECOMMENDATION,
    statement="After a 429, the client waits at least Retry-After before its next request.",
    how_to_fix="On 429, read Retry-After (seconds) and sleep that long before any next request.",
    check=_retry_after,
)
RESUBMIT_RULE = Rule(
    id="resubmit-after-rejection",
    severity=Severity.ERROR,
    source=Source.RECOMMENDATION,
    statement="No identical resubmission after a 400, 401, 402 or 403 without a change.",
    how_to_fix=(
        "Treat 400/401/402/403 as final for that request: fix the body, the key or the "
        "balance first (403: wait for the quota to replenish)."
    ),
    check=_resubmit,
)
BACKOFF_RULE = Rule(
    id="backoff-after-5xx",
    severity=Severity.ERROR,
    source=Source.RECOMMENDATION,
    statement="After a 5xx answer or a broken connection, retries back off.",
    how_to_fix=(
        "Retry with exponential backoff (for instance 1 s, 2 s, 4 s... with a cap) "
        "instead of at once or at a fixed pace."
    ),
    check=_backoff,
)
DUPLICATE_RULE = Rule(
    id="duplicate-submission",
    severity=Severity.WARNING,
    source=Source.RECOMMENDATION,
    statement="No duplicate billable submission of an identical body within a short window.",
    how_to_fix=(
        "Submit a job once and keep its request_id; after a timeout, poll before resubmitting."
    ),
    check=_duplicates,
)

RETRY_RULES = (RETRY_AFTER_RULE, RESUBMIT_RULE, BACKOFF_RULE, DUPLICATE_RULE)
