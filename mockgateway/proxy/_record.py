"""What the proxy keeps of each exchange: journal entries the checker reads, and the HAR file.

Keys are redacted here, once, before anything is kept: headers through the journal's own helper,
and any copy of the key inside a body or URL (an upstream that echoed it) cut to its last four
characters too. The HAR is the journal's writer (:mod:`mockgateway._har`) with the jobs the
proxy tracked, their transition times included, as a custom ``_jobs`` field of the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .._bodyparse import json_or_text
from .._har import to_har
from .._journal import (
    MAX_BODY_BYTES,
    JournalEntry,
    Kind,
    Route,
    body_digest,
    redact_headers,
    redact_key,
)
from .._jsonfmt import valid_unicode
from ._tracked import TrackedJob

LOCAL_NOTE = "answered by the proxy; not sent upstream"
# credentials besides the key and Authorization (which the journal's helper redacts)
SECRET_HEADERS = frozenset({"cookie", "set-cookie", "proxy-authorization"})


def redacted(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` as kept: the key cut, every credential (cookies too) replaced."""
    kept = redact_headers(headers)
    return {k: ("****" if k.lower() in SECRET_HEADERS else v) for k, v in kept.items()}


def scrub(text: str, key: str | None) -> str:
    """``text`` with every copy of ``key`` cut to its last four characters."""
    if key and len(key) > 4 and key in text:
        return text.replace(key, redact_key(key) or "****")
    return text


def kept_body(raw: bytes, key: str | None) -> tuple[Any, bool]:
    """A body as the journal keeps it (cut to its cap, JSON when it is), the key scrubbed."""
    cut = raw[:MAX_BODY_BYTES]
    data, _ = json_or_text(cut)
    if isinstance(data, str):
        return scrub(data, key), len(raw) > MAX_BODY_BYTES
    if key and len(key) > 4 and key in json.dumps(data):
        data = json.loads(scrub(json.dumps(data), key))
    return valid_unicode(data), len(raw) > MAX_BODY_BYTES


def entry(
    seq: int,
    *,
    kind: Kind = "request",
    route: Route,
    method: str,
    url: str,
    path: str,
    headers: Mapping[str, str],
    key: str | None,
    request_id: str | None = None,
    model_id: str | None = None,
    body: bytes = b"",
    status: int | None,
    response_headers: Mapping[str, str],
    response_body: bytes | None,
    started_at: float,
    finished_at: float,
    error: str | None = None,
    notes: tuple[str, ...] = (),
    billing: dict[str, Any] | None = None,
) -> JournalEntry:
    req_body, req_cut = kept_body(body, key) if body else (None, False)
    resp_body, resp_cut = (
        kept_body(response_body, key) if response_body is not None else (None, False)
    )
    return JournalEntry(
        seq=seq,
        kind=kind,
        route=route,
        method=method,
        url=scrub(valid_unicode(url), key),
        path=scrub(valid_unicode(path), key),
        headers=valid_unicode(redacted(headers)),
        key=redact_key(key),
        request_id=request_id,
        model_id=model_id,
        body=req_body,
        body_size=len(body),
        body_sha256=body_digest(body) if body else None,
        status=status,
        response_headers=valid_unicode(redacted(response_headers)),
        response_body=resp_body,
        started_at=started_at,
        finished_at=finished_at,
        error=scrub(error, key) if error else None,
        notes=notes,
        billing=billing,
        body_truncated=req_cut,
        response_body_size=len(response_body or b""),
        response_body_truncated=resp_cut,
    )


def proxy_har(
    entries: Iterable[JournalEntry], jobs: Iterable[TrackedJob], upstream: str, dropped: int = 0
) -> dict[str, Any]:
    """The run as HAR 1.2, with each job's transitions in ``log._jobs``; ``dropped``: the
    exchanges it lacks (said in its comment and ``log._dropped``)."""
    har = to_har(entries)
    log = har["log"]
    log["comment"] = f"mockgateway proxy to {upstream}; times are the proxy's clock"
    if dropped:
        log["comment"] += f"; INCOMPLETE: {dropped} earlier exchange(s) were dropped"
    log["_dropped"] = dropped
    log["_upstream"] = upstream
    log["_jobs"] = [job.to_dict() for job in jobs]
    return har
