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
from collections.abc import Callable, Iterable, Iterator, Mapping
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


@dataclass(slots=True, kw_only=True)
class JournalEntry:
    """One exchange. ``status`` is None when no response reached the other side.

    Treat entries as values: nothing changes one once it is appended. (Not ``frozen``: a frozen
    dataclass pays for ``object.__setattr__`` per field, and one entry is made per request.)
    """

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
    # a status answer or webhook that showed a terminal status: the job's cost (``billing_record``)
    billing: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notes"] = list(self.notes)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JournalEntry:
        values = dict(data)
        values["notes"] = tuple(values.get("notes", ()))
        return cls(**values)


Builder = Callable[..., JournalEntry]


class Journal:
    """A bounded, append-only log with a monotonically increasing sequence number.

    The hot path records with :meth:`append_lazy`: the raw pieces of an exchange are kept and turned
    into a :class:`JournalEntry` only when someone reads the journal, so a status poll pays for a
    tuple, not for redacting headers and building a record nobody may look at. Callers check
    :attr:`enabled` first, so a disabled journal costs them nothing.
    """

    def __init__(self, max_entries: int = 10_000, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._entries: deque[JournalEntry | tuple[int, Builder, tuple[Any, ...]]] = deque(
            maxlen=max_entries
        )
        self._seq = itertools.count(1)
        self._first_seq = 1  # the first sequence number since the last clear

    def next_seq(self) -> int:
        return next(self._seq)

    @property
    def max_entries(self) -> int | None:
        return self._entries.maxlen

    @property
    def dropped(self) -> int:
        """How many entries the bound has pushed out since the last clear."""
        if not self._entries:
            return 0
        first = self._entries[0]
        return (first.seq if isinstance(first, JournalEntry) else first[0]) - self._first_seq

    def append(self, entry: JournalEntry) -> None:
        if self.enabled:
            self._entries.append(entry)

    def append_lazy(self, build: Builder, *pieces: Any) -> None:
        """Record ``build(seq, *pieces)``, called when the journal is next read."""
        self._entries.append((next(self._seq), build, pieces))

    def _materialize(self) -> list[JournalEntry]:
        entries = [
            item if isinstance(item, JournalEntry) else item[1](item[0], *item[2])
            for item in self._entries
        ]
        self._entries.clear()
        self._entries.extend(entries)
        return entries

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self._materialize())

    def __len__(self) -> int:
        return len(self._entries)

    def entries(self, *, since: int = 0) -> list[JournalEntry]:
        return [e for e in self._materialize() if e.seq > since]

    def clear(self) -> None:
        self._entries.clear()
        self._first_seq = self.next_seq() + 1

    def dump(self) -> str:
        return json.dumps({"entries": [e.to_dict() for e in self._materialize()]}, indent=1)

    @staticmethod
    def load(text: str) -> list[JournalEntry]:
        data = json.loads(text)
        rows: Iterable[Mapping[str, Any]] = data["entries"] if isinstance(data, dict) else data
        return [JournalEntry.from_dict(row) for row in rows]
