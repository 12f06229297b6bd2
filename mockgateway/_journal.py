"""The request journal: every request the gateway answered and every webhook it sent.

Entries are frozen values stamped on the gateway clock, kept in a ring bounded in entries and in
bytes so a long run cannot exhaust memory: each request and response body is kept up to
``max_body_bytes`` (the entry then says it was truncated and gives the whole size), and the oldest
entries go when the kept bytes pass ``max_bytes``. The client checker judges a client from these
entries alone, and a saved journal (:meth:`Journal.dump`) can be judged later without a gateway.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from yarl import URL

from ._bodyparse import MAX_DEPTH, Bounds, parse_json

KEY_HEADER = "Ocp-Apim-Subscription-Key"
MAX_BODY_BYTES = 16 * 1024
MAX_BYTES = 64 * 1024 * 1024
# What one entry weighs beyond its bodies and headers (the record, its dicts), as an estimate.
ENTRY_OVERHEAD = 1024
# A saved journal nests an entry's body (at most MAX_DEPTH deep) inside a few levels of its own.
_SAVED_BOUNDS = Bounds(max_bytes=None, max_depth=MAX_DEPTH + 8)
_KEY_HEADER_LOWER = KEY_HEADER.lower()

Route = Literal["generate", "status", "media", "admin", "other", "webhook"]
Kind = Literal["request", "webhook"]


def redact_key(key: str | None) -> str | None:
    """Keep the last four characters of an API key, enough to tell clients apart."""
    if key is None:
        return None
    return "****" + key[-4:] if len(key) > 4 else "****"


# Authorization schemes (IANA's registry and common ones) whose name the journal keeps.
AUTH_SCHEMES = frozenset(
    {"basic", "bearer", "digest", "negotiate", "ntlm", "hoba", "mutual", "token", "dpop"}
    | {"aws4-hmac-sha256", "scram-sha-1", "scram-sha-256", "vapid", "privatetoken"}
)
# Headers whose whole value is a credential: kept as ``****``.
_SECRET_HEADERS = frozenset({"cookie", "set-cookie", "proxy-authorization"})
_CREDENTIAL_HEADERS = frozenset({"authorization"})


def redact_credentials(value: str) -> str:
    """An ``Authorization`` value as the journal keeps it: ``<Scheme> ****`` when it is a known
    scheme word and one credential, else ``****`` (a bare token is all credential)."""
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() in AUTH_SCHEMES:
        return parts[0] + " ****"
    return "****"


def _redact_header(name: str, value: str) -> str:
    lower = name.lower()
    if lower == _KEY_HEADER_LOWER:
        return redact_key(value) or ""
    if lower in _CREDENTIAL_HEADERS:
        return redact_credentials(value)
    if lower in _SECRET_HEADERS:
        return "****"
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The key reduced to its last four characters, an ``Authorization`` value to its scheme, a
    cookie or proxy credential to ``****`` (the operator token, or a client's own credentials,
    never reach the journal). Applied again to its own output, it changes nothing."""
    return {name: _redact_header(name, value) for name, value in headers.items()}


def split_url(url: str) -> SplitResult:
    """``urlsplit`` that never raises: a journal's URL is built from the client's ``Host`` header
    (and a polling URL from ``X-Forwarded-Host``), so its host may be anything, ``[x`` included.
    A host ``urlsplit`` refuses is kept as it came; the path and query are still read."""
    try:
        return urlsplit(url)
    except ValueError:
        scheme, sep, rest = url.partition("://")
        if not sep:  # no host part: what urlsplit refused is not here
            return SplitResult("", "", url, "", "")
        cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
        parts = urlsplit(f"{scheme}{sep}{rest[cut:]}")
        return parts._replace(netloc=rest[:cut])


def request_path(raw_path: str) -> str:
    """The decoded path of a request target as aiohttp routes it: one that starts with ``/`` is
    a path even when it looks like ``//host/`` (``//[x/`` is a path, not a bad host)."""
    if not raw_path.startswith("/"):  # absolute form, http://host/path
        return split_url(raw_path).path
    path = raw_path.partition("?")[0].partition("#")[0]
    try:
        return URL.build(path=path, encoded=True).path
    except ValueError:
        return path


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(slots=True, kw_only=True)
class JournalEntry:
    """One exchange. ``status`` is None when no response reached the other side.

    ``body`` is the request body as JSON data, or as text when it is not JSON within the bounded
    reader's limits (``body_unparsed``) or was cut at the journal's per-body cap
    (``body_truncated``; ``body_size`` and ``body_sha256`` are the whole body's). The response
    body is kept the same way (``response_body_truncated``, ``response_body_size``).

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
    body_truncated: bool = False
    body_unparsed: bool = False
    response_body_size: int = 0
    response_body_truncated: bool = False

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

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        enabled: bool = True,
        max_bytes: int = MAX_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.max_body_bytes = max_body_bytes
        # An entry, or ``(seq, build, *pieces)`` until it is read: one tuple per request.
        self._entries: deque[JournalEntry | tuple[Any, ...]] = deque(maxlen=max_entries)
        self._sizes: deque[int] = deque(maxlen=max_entries)  # beside _entries, one per entry
        self._bytes = 0
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

    @property
    def last_seq(self) -> int:
        """The newest entry's sequence number, 0 when there is none (as cheap as ``dropped``)."""
        if not self._entries:
            return 0
        last = self._entries[-1]
        return last.seq if isinstance(last, JournalEntry) else last[0]

    @property
    def kept_bytes(self) -> int:
        """The estimated bytes the entries kept weigh (bodies, headers, a fixed overhead each)."""
        return self._bytes

    def append(self, entry: JournalEntry) -> None:
        if self.enabled:
            kept = entry.response_body
            size = min(entry.body_size, self.max_body_bytes) + sum(
                len(n) + len(v) for n, v in entry.headers.items()
            )
            size += len(kept) if isinstance(kept, (str, bytes)) else 0
            self._keep(entry, size)

    def append_lazy(self, build: Builder, *pieces: Any, size: int = 0) -> None:
        """Record ``build(seq, *pieces)``, called when the journal is next read; ``size`` is what
        the pieces keep alive (bodies and headers), in bytes."""
        # (a tuple joined, not one written with *pieces: that one is built as a list first)
        self._keep((next(self._seq), build) + pieces, size)  # noqa: RUF005

    def _keep(self, item: JournalEntry | tuple[Any, ...], size: int) -> None:
        """Keep an entry (or what it is built from) of ``size`` bytes, within both bounds."""
        sizes = self._sizes
        if len(sizes) == sizes.maxlen:
            self._bytes -= sizes[0] + ENTRY_OVERHEAD  # about to be pushed out by the entry bound
        self._entries.append(item)
        sizes.append(size)  # the caller's int, often one shared by many entries: not a new one
        self._bytes = kept = self._bytes + size + ENTRY_OVERHEAD
        if kept > self.max_bytes:
            self._trim()

    def _trim(self) -> None:
        """Push out the oldest entries until the kept bytes are within the bound (the newest
        stays, whatever it weighs)."""
        entries, sizes = self._entries, self._sizes
        while self._bytes > self.max_bytes and len(entries) > 1:
            entries.popleft()
            self._bytes -= sizes.popleft() + ENTRY_OVERHEAD

    def _materialize(self) -> list[JournalEntry]:
        entries = [
            item if isinstance(item, JournalEntry) else item[1](item[0], *item[2:])
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
        self._sizes.clear()
        self._bytes = 0
        self._first_seq = self.next_seq() + 1

    def dump(self) -> str:
        return json.dumps({"entries": [e.to_dict() for e in self._materialize()]}, indent=1)

    @staticmethod
    def load(text: str | bytes) -> list[JournalEntry]:
        """Entries from a saved journal; a :class:`ValueError` naming the problem if it is not one
        (read with the bounded reader: a file can come from anywhere)."""
        data = parse_json(text, _SAVED_BOUNDS, what="journal")
        rows: Iterable[Mapping[str, Any]] = data["entries"] if isinstance(data, dict) else data
        return [JournalEntry.from_dict(row) for row in rows]
