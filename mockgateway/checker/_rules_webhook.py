"""Rules about the client's side of webhooks: its receiver must answer 2xx, and promptly."""

from __future__ import annotations

from collections.abc import Iterator

from .._journal import JournalEntry
from ._model import Finding, Rule, Severity, Source
from ._settings import CheckerSettings
from ._view import JournalView, is_success, request_id_of


def _problem(entry: JournalEntry, settings: CheckerSettings) -> str | None:
    if entry.error is not None or entry.status is None:
        return f"no answer ({entry.error or 'connection failed'})"
    if not is_success(entry):
        return f"answered {entry.status}"
    took = entry.finished_at - entry.started_at
    if took > settings.webhook_answer_within:
        return f"answered after {took:.3f} s"
    return None


def _webhook_answers(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    bad: dict[tuple[str | None, str], list[tuple[JournalEntry, str]]] = {}
    for w in view.webhooks:
        if (w.error or "").startswith("blocked:"):
            continue  # the operator's host policy stopped it; the receiver was never asked
        problem = _problem(w, settings)
        if problem is not None:
            bad.setdefault((w.key, request_id_of(w) or w.url), []).append((w, problem))
    for (client, job), attempts in bad.items():
        reasons = sorted({p for _, p in attempts})
        yield Finding(
            f"the webhook receiver {attempts[0][0].url} failed {len(attempts)} delivery "
            f"attempt(s) for {job}: " + "; ".join(reasons),
            tuple(w for w, _ in attempts[:8]),
            client,
        )


WEBHOOK_RULE = Rule(
    id="webhook-receiver-2xx",
    severity=Severity.ERROR,
    source=Source.RECOMMENDATION,
    statement="The client's webhook receiver answers 2xx promptly.",
    how_to_fix=(
        "Answer the callback with 200/204 at once and do slow work afterwards; make sure the "
        "X-Webhook-URL you send is reachable."
    ),
    check=_webhook_answers,
)

WEBHOOK_RULES = (WEBHOOK_RULE,)
