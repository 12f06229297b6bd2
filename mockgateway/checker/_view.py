"""A read-only view of a journal shaped for the rules: per client, per job, in gateway time.

Clients are told apart by their redacted key (the journal keeps the last four characters).
Admin requests are the operator's, not the client's, so rules never judge them; they only mark
moments where the operator changed the world (a wallet top-up, for instance).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._bodyparse import BodyError, Bounds, parse_json
from .._journal import KEY_HEADER, JournalEntry, split_url
from ..models import ModelSpec, builtin_models
from ._request_schema import Target, target_of

TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "ERROR"})
STATUS_PREFIX = "/v2/requests/status/"
JUDGED_ROUTES = frozenset({"generate", "status", "media", "other"})


def header(entry: JournalEntry, name: str, *, response: bool = False) -> str | None:
    """A header of the request (or response), looked up case-insensitively."""
    source = entry.response_headers if response else entry.headers
    wanted = name.lower()
    for key, value in source.items():
        if key.lower() == wanted:
            return value
    return None


def has_key_header(entry: JournalEntry) -> bool:
    value = header(entry, KEY_HEADER)
    return value is not None and value.strip() != ""


_ANY_SIZE = Bounds(max_bytes=None)  # a journal caps the bodies it keeps


def as_json(value: Any) -> Any:
    """A body as JSON data: parsed already, or text/bytes to parse; None when it is not JSON."""
    if isinstance(value, (bytes, str)):
        try:  # the bounded reader: a client's text can nest too deep for json.loads
            return parse_json(value, _ANY_SIZE)
        except BodyError:
            return None
    return value


def response_json(entry: JournalEntry) -> Mapping[str, Any] | None:
    data = as_json(entry.response_body)
    return data if isinstance(data, Mapping) else None


def job_status(entry: JournalEntry) -> str | None:
    """The job status an answer (status poll or webhook body) showed, if any."""
    data = as_json(entry.body) if entry.kind == "webhook" else response_json(entry)
    if isinstance(data, Mapping):
        status = data.get("status")
        return status if isinstance(status, str) else None
    return None


def request_id_of(entry: JournalEntry) -> str | None:
    """The job an entry concerns: the journal's own field, else the 202 body or the status path."""
    if entry.request_id:
        return entry.request_id
    if entry.route == "generate":
        data = response_json(entry)
        rid = data.get("request_id") if data else None
        return rid if isinstance(rid, str) else None
    path = split_url(entry.url).path if entry.url else entry.path
    if path.startswith(STATUS_PREFIX):
        return path[len(STATUS_PREFIX) :].strip("/") or None
    return None


def url_path(url: str) -> str:
    parts = split_url(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def failed_transport(entry: JournalEntry) -> bool:
    """A broken connection: no answer reached the client, or the answer was cut."""
    return entry.error is not None or entry.status is None


def is_success(entry: JournalEntry) -> bool:
    return entry.status is not None and 200 <= entry.status < 300 and entry.error is None


@dataclass(frozen=True, slots=True)
class Submission:
    """A generate request the gateway accepted, with the polling_url it handed out."""

    entry: JournalEntry
    request_id: str
    polling_url: str | None


class JournalView:
    """The journal sorted by gateway time and indexed the ways the rules ask for.

    ``models``: the models the gateway ran with (the built-in ones unless given), for the rules
    that judge a generate request by the model it called.
    """

    def __init__(
        self, entries: Iterable[JournalEntry], models: Iterable[ModelSpec] | None = None
    ) -> None:
        self.models: dict[str, ModelSpec] = {
            m.id: m for m in (builtin_models() if models is None else models)
        }
        ordered = sorted(entries, key=lambda e: (e.started_at, e.seq))
        self.entries: tuple[JournalEntry, ...] = tuple(ordered)
        self.requests = tuple(
            e for e in ordered if e.kind == "request" and e.route in JUDGED_ROUTES
        )
        self.admin = tuple(e for e in ordered if e.kind == "request" and e.route == "admin")
        self.webhooks = tuple(e for e in ordered if e.kind == "webhook")
        by_client: dict[str | None, list[JournalEntry]] = defaultdict(list)
        for e in self.requests:
            by_client[e.key].append(e)
        self.by_client: dict[str | None, tuple[JournalEntry, ...]] = {
            k: tuple(v) for k, v in by_client.items()
        }
        self.submissions: dict[str, Submission] = {}
        for e in self.requests:
            if e.route == "generate" and e.status == 202:
                rid = request_id_of(e)
                if rid is None:
                    continue
                data = response_json(e)
                polling = data.get("polling_url") if data else None
                self.submissions[rid] = Submission(
                    e, rid, polling if isinstance(polling, str) else None
                )

    def target(self, entry: JournalEntry) -> Target:
        """The model a generate request called, from its path."""
        return target_of(entry.path or split_url(entry.url).path, self.models)

    @property
    def origin(self) -> float | None:
        return self.entries[0].started_at if self.entries else None

    @property
    def clients(self) -> tuple[str | None, ...]:
        return tuple(self.by_client)

    def polls(self, client: str | None) -> dict[str, list[JournalEntry]]:
        """Status polls of each job by one client, in time order."""
        out: dict[str, list[JournalEntry]] = defaultdict(list)
        for e in self.by_client.get(client, ()):
            if e.route == "status" and e.method == "GET":
                rid = request_id_of(e)
                if rid is not None:
                    out[rid].append(e)
        return dict(out)

    def admin_between(self, start: float, end: float) -> tuple[JournalEntry, ...]:
        """Operator changes (non-GET admin calls) that happened between two moments."""
        return tuple(e for e in self.admin if e.method != "GET" and start <= e.started_at <= end)

    def delivered_webhooks(self, client: str | None) -> tuple[JournalEntry, ...]:
        """Webhook attempts for a client's jobs that its receiver accepted."""
        return tuple(w for w in self.webhooks if w.key == client and is_success(w))
