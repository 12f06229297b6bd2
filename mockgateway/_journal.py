"""The request journal: every request the gateway answered and every webhook it sent.

Entries are frozen values stamped on the gateway clock, kept in a bounded ring so a long run
cannot exhaust memory. The client checker judges a client from these entries alone, and a saved
journal (:meth:`Journal.dump`) can be judged later without a gateway.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

KEY_HEADER = "Ocp-Apim-Subscription-Key"
_KEY_HEADER_LOWER = KEY_HEADER.lower()

Route = Literal["generate", "status", "media", "admin", "other", "webhook"]
Kind = Literal["request", "webhook"]


def redact_key(key: str | None) -> str | None:
    """Keep the last four characters of an API key, enough to tell clients apart."""
    if key is None:
        return None
    return "****" + key[-4:] if len(key) > 4 else "****"


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: (redact_key(value) or "") if name.lower() == _KEY_HEADER_LOWER else value
        for name, value in headers.items()
    }


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalEntry:
    """One exchange. ``status`` is None when no response reached the other side."""

    seq: int
    kind: Kind
    route: Route
    method: str
    url: str
    path: str
    headers: dict[str, str]
    key: str | None = None
    request_id: str | None = None
    model_id: str | None = None
    body: Any = None
    body_size: int = 0
    body_sha256: str | None = None
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: Any = None
    started_at: float = 0.0
    finished_at: float = 0.0
    error: str | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JournalEntry:
        values = dict(data)
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


class Journal:
    """A bounded, append-only log with a monotonically increasing sequence number."""

    def __init__(self, max_entries: int = 10_000, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._entries: deque[JournalEntry] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)
        self.dropped = 0

    def next_seq(self) -> int:
        return next(self._seq)

    def append(self, entry: JournalEntry) -> None:
        if not self.enabled:
            return
        if len(self._entries) == self._entries.maxlen:
            self.dropped += 1
        self._entries.append(entry)

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, *, since: int = 0) -> list[JournalEntry]:
        return [e for e in self._entries if e.seq > since]

    def clear(self) -> None:
        self._entries.clear()
        self.dropped = 0

    def dump(self) -> str:
        return json.dumps({"entries": [e.to_dict() for e in self._entries]}, indent=1)

    @staticmethod
    def load(text: str) -> list[JournalEntry]:
        data = json.loads(text)
        rows: Iterable[Mapping[str, Any]] = data["entries"] if isinstance(data, dict) else data
        return [JournalEntry.from_dict(row) for row in rows]
