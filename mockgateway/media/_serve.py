"""Serve a rendered file over HTTP the way a CDN does: ETag, HEAD, Range and optional expiry.

The parsing of ``Range`` is pure (:func:`parse_range`); :func:`media_response` is the thin aiohttp
edge the gateway's media route calls. Errors are raised as the package's :class:`ApiError`, so the
web layer journals them and writes their JSON body like any other.
"""

from __future__ import annotations

from aiohttp import web

from .._errors import link_expired, not_found, range_not_satisfiable
from ._samples import SAMPLES, sample_bytes
from ._types import RenderedMedia


class Unsatisfiable(Exception):
    """The Range names no byte of the file (answer 416)."""


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The inclusive byte span a ``Range`` header asks for, or None to send the whole file.

    A malformed header or one with several ranges is ignored (RFC 9110 lets a server do that);
    a well-formed one that starts past the end raises :class:`Unsatisfiable`.
    """
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    first, last = first.strip(), last.strip()
    if not (_is_digits(first) or first == "") or not (_is_digits(last) or last == ""):
        return None
    if first == "":
        if last == "":
            return None
        suffix = _position(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = _position(first)
    if last and _position(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return start, min(_position(last) if last else size - 1, size - 1)


_FAR = 10**18  # past the end of any file: a longer position means the same
_FAR_DIGITS = len(str(_FAR))


def _is_digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes ``²`` and other scripts' digits."""
    return text.isascii() and text.isdigit()


def _position(digits: str) -> int:
    """A byte position as written, without turning thousands of digits into an ``int`` (Python
    refuses past 4,300): a position that long is past the end of any file, like :data:`_FAR`."""
    digits = digits.lstrip("0") or "0"
    return _FAR if len(digits) >= _FAR_DIGITS else int(digits)


def _etag_matches(header: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def media_response(
    request: web.Request,
    media: RenderedMedia,
    *,
    expires_at: float | None = None,
    now: float = 0.0,
) -> web.Response:
    """The answer to a GET or HEAD of a media file (200, 206, 304; 403 and 416 as ApiError)."""
    if expires_at is not None and now >= expires_at:
        raise link_expired()
    size = len(media.data)
    headers = {"ETag": media.etag, "Accept-Ranges": "bytes", "Cache-Control": "private"}
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None and _etag_matches(if_none_match, media.etag):
        return web.Response(status=304, headers=headers)
    span = None
    range_header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if range_header and (if_range is None or if_range.strip() == media.etag):
        try:
            span = parse_range(range_header, size)
        except Unsatisfiable:
            raise range_not_satisfiable(size, range_header) from None
    if span is None:
        return web.Response(body=media.data, content_type=media.content_type, headers=headers)
    start, end = span
    headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return web.Response(
        status=206,
        body=media.data[start : end + 1],
        content_type=media.content_type,
        headers=headers,
    )


def sample_response(request: web.Request, name: str) -> web.Response:
    """A bundled sample by name (404 for any other name), with the same Range and ETag support."""
    if name not in SAMPLES:
        raise not_found(f"No bundled sample named {name!r}")
    media = _sample_media(name)
    return media_response(request, media)


_samples: dict[str, RenderedMedia] = {}


def _sample_media(name: str) -> RenderedMedia:
    media = _samples.get(name)
    if media is None:
        media = _samples[name] = RenderedMedia.of(sample_bytes(name), SAMPLES[name])
    return media


def samples_index(base_url: str) -> dict[str, list[dict[str, object]]]:
    """The bundled samples with their URLs on this gateway, for ``GET /_mock/samples``."""
    return {
        "samples": [
            {
                "name": name,
                "content_type": content_type,
                "bytes": len(sample_bytes(name)),
                "url": f"{base_url}/_mock/samples/{name}",
            }
            for name, content_type in SAMPLES.items()
        ]
    }
