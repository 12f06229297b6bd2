"""What a store holds and answers, as plain values shared by every backend.

A job is a :class:`~mockgateway._jobs.Job` (its plan and its progress on it included); money is a
:class:`WalletState` and :class:`~mockgateway._billing.LedgerEntry` rows; timed work is a
:class:`Task`; a webhook is a :class:`DeliveryRecord`. Every value turns into JSON-ready data and
back (``to_dict`` / ``from_dict``) for the backends that keep bytes, not objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from .._errors import MockGatewayError

T = TypeVar("T")

FORGOTTEN_UNTIL = "forgotten_until"  # meta: the end time of the newest job retention let go

LAYOUT_VERSION = 1  # the stored layout; a database of another version is refused, never misread


class StoreError(MockGatewayError):
    """A store that cannot be opened or reached at start; names the setting (exit 2)."""

    def __init__(self, message: str, *, setting: str) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}")


class StoreUnavailable(MockGatewayError):
    """The store was lost while running (a 503 for the request); the gateway retries later."""


class TaskKind(StrEnum):
    START = "start"  # a job's queue time is over: start processing it
    DEADLINE = "deadline"  # a job's processing time is over: end it once its work is done
    WEBHOOK = "webhook"  # one webhook delivery attempt (ref: the delivery id)


# The kinds as names of their own, for the code every job runs through (as the statuses in
# mockgateway._jobs: an Enum class's attribute costs a hook in Python 3.11).
START, DEADLINE, WEBHOOK = TaskKind.START, TaskKind.DEADLINE, TaskKind.WEBHOOK


@dataclass(slots=True)
class Task:
    """One piece of timed work: due on the gateway clock, of ``kind``, about ``ref``. Not changed
    once made; not frozen, as every job makes two and a frozen dataclass costs five times as much
    to make (each field set through ``object.__setattr__``)."""

    due: float
    kind: TaskKind
    ref: str
    id: str = ""  # the backend's own handle, for ack
    lease: int = 0  # a shared store's claim (Redis: its lease's end): a late give-back checks it

    def to_dict(self) -> dict[str, Any]:
        return {"due": self.due, "kind": self.kind.value, "ref": self.ref, "id": self.id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        return cls(float(data["due"]), TaskKind(data["kind"]), str(data["ref"]), str(data["id"]))


@dataclass(slots=True)
class DeliveryRecord:
    """One webhook body on its way to one URL, with every attempt's outcome so far."""

    id: str
    request_id: str
    url: str
    body: dict[str, Any]
    key: str
    attempts: int = 0
    delivered: bool = False
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    billing: dict[str, Any] | None = None  # a terminal callback's job billing, for the journal

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "request_id": self.request_id,
            "url": self.url,
            "body": self.body,
            "key": self.key,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "outcomes": self.outcomes,
            "billing": self.billing,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryRecord:
        return cls(
            id=data["id"],
            request_id=data["request_id"],
            url=data["url"],
            body=data["body"],
            key=data["key"],
            attempts=int(data["attempts"]),
            delivered=bool(data["delivered"]),
            outcomes=list(data["outcomes"]),
            billing=data.get("billing"),
        )


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing: ``total`` counts every match, ``next_cursor`` fetches the rest."""

    items: list[T]
    total: int
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class JournalStats:
    entries: int
    dropped: int
    bytes: int
    last_seq: int = 0  # the newest entry's sequence number, 0 when there is none


@dataclass(frozen=True, slots=True, kw_only=True)
class Retention:
    """How long finished work is kept: the newest ``max_jobs`` ended jobs no older than
    ``max_age_seconds`` of gateway time (their media, deliveries and holds with them), at most
    ``max_media_bytes`` of rendered media, and the last ``max_ledger_entries`` per wallet."""

    max_jobs: int = 10_000
    max_age_seconds: float = 86_400.0
    max_media_bytes: int = 256 * 1024 * 1024
    max_ledger_entries: int = 10_000
