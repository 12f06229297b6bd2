"""The journal as an HTTP Archive (HAR 1.2): what browsers' devtools and HTTP tools open.

Pure: journal entries in, a HAR document (a dict) out. Each journal entry becomes one HAR entry,
webhook attempts included (the gateway's request to the client's receiver and its answer).
Headers are the journal's, so API keys are already redacted to their last four characters;
bodies are the journal's too, as it keeps them. Times are the gateway clock's. Fields HAR has no
place for travel as ``_``-prefixed custom fields, which the format allows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from . import __version__
from ._journal import JournalEntry, redact_headers, split_url

HAR_VERSION = "1.2"
_HTTP = "HTTP/1.1"


def _iso(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
    except (OverflowError, OSError, ValueError):
        return datetime.fromtimestamp(0, UTC).isoformat(timespec="milliseconds")


def _headers(headers: Mapping[str, str]) -> list[dict[str, str]]:
    # redacted again: a journal loaded from a file may come from anywhere
    kept = redact_headers({str(name): str(value) for name, value in headers.items()})
    return [{"name": name, "value": value} for name, value in kept.items()]


def _header(headers: Mapping[str, str], wanted: str) -> str | None:
    wanted = wanted.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def _text(body: Any) -> str | None:
    """A journal body as text: JSON data re-encoded, text as is, bytes decoded."""
    if body is None:
        return None
    if isinstance(body, bytes):
        return body.decode("utf-8", "replace")
    if isinstance(body, str):
        return body
    return json.dumps(body)


def _status_text(status: int | None) -> str:
    if status is None:
        return ""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _request(e: JournalEntry) -> dict[str, Any]:
    parts = split_url(e.url or e.path)
    request: dict[str, Any] = {
        "method": e.method,
        "url": e.url or e.path,
        "httpVersion": _HTTP,
        "cookies": [],
        "headers": _headers(e.headers),
        "queryString": [
            {"name": k, "value": v} for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ],
        "headersSize": -1,
        "bodySize": e.body_size,
    }
    text = _text(e.body)
    if text is not None:
        mime = _header(e.headers, "Content-Type") or "application/octet-stream"
        request["postData"] = {"mimeType": mime, "text": text}
    return request


def _response(e: JournalEntry) -> dict[str, Any]:
    text = _text(e.response_body)
    mime = _header(e.response_headers, "Content-Type") or ""
    length = _header(e.response_headers, "Content-Length")
    size = int(length) if length is not None and length.isascii() and length.isdigit() else -1
    content: dict[str, Any] = {  # a body the journal does not keep (media) still has its size
        "size": len(text.encode("utf-8", "surrogatepass")) if text is not None else max(size, 0),
        "mimeType": mime,
    }
    if text is not None:
        content["text"] = text
    return {
        # HAR has no "no response": 0, as browsers record a request that got none
        "status": e.status if e.status is not None else 0,
        "statusText": _status_text(e.status),
        "httpVersion": _HTTP,
        "cookies": [],
        "headers": _headers(e.response_headers),
        "content": content,
        "redirectURL": _header(e.response_headers, "Location") or "",
        "headersSize": -1,
        "bodySize": size,
    }


def har_entry(e: JournalEntry) -> dict[str, Any]:
    """One journal entry as a HAR entry (the whole exchange counts as waiting)."""
    elapsed = max(0.0, (e.finished_at - e.started_at) * 1000.0)
    entry: dict[str, Any] = {
        "startedDateTime": _iso(e.started_at),
        "time": round(elapsed, 3),
        "request": _request(e),
        "response": _response(e),
        "cache": {},
        "timings": {"send": 0, "wait": round(elapsed, 3), "receive": 0},
        "comment": f"#{e.seq} {e.kind} {e.route}" + "".join(f"; {n}" for n in e.notes),
        "_seq": e.seq,
        "_kind": e.kind,
        "_route": e.route,
        "_key": e.key,
        "_requestId": e.request_id,
    }
    if e.error is not None:
        entry["_error"] = e.error
    if e.billing is not None:
        entry["_billing"] = e.billing
    return entry


def to_har(entries: Iterable[JournalEntry]) -> dict[str, Any]:
    """A HAR 1.2 document of the entries, in the order the exchanges started."""
    ordered = sorted(entries, key=lambda e: (e.started_at, e.seq))
    return {
        "log": {
            "version": HAR_VERSION,
            "creator": {"name": "mockgateway", "version": __version__},
            "pages": [],
            "entries": [har_entry(e) for e in ordered],
            "comment": "mockgateway request journal; times are the gateway clock's",
        }
    }
