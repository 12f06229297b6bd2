"""The dashboard's files: one page of plain HTML, CSS and JavaScript shipped in the package.

``GET /_mock/ui/`` is the page (``/_mock/ui`` leads there), ``GET /_mock/ui/{file}`` its scripts
and style sheet. Nothing is built or fetched from elsewhere: the page reads the gateway through
the operator API, with the operator token when one is set (it asks for it once and keeps it for
the browser tab). A file is read from the package when first asked for, so a gateway nobody opens
the page on pays nothing.
"""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from .._errors import not_found
from ._bind import Routes, endpoint
from ._exchange import Exchange

_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
FILES = frozenset(
    entry.name
    for entry in resources.files(__package__).joinpath("ui").iterdir()
    if entry.name.endswith(tuple(_TYPES))
)
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # the controls change the gateway: no framing by another page
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "media-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
_read: dict[str, bytes] = {}


def _file(name: str) -> web.Response:
    if name not in FILES:
        raise not_found(f"No dashboard file {name!r}")
    body = _read.get(name)
    if body is None:
        body = _read[name] = resources.files(__package__).joinpath("ui", name).read_bytes()
    kind = _TYPES[name[name.rindex(".") :]]
    return web.Response(body=body, content_type=kind, charset="utf-8", headers=_HEADERS)


@endpoint("admin")
async def to_page(request: web.Request, ex: Exchange) -> web.Response:
    """``/_mock/ui`` without its slash: the page's files are named relative to ``/_mock/ui/``."""
    return web.Response(status=301, headers={"Location": "/_mock/ui/"})


@endpoint("admin")
async def page(request: web.Request, ex: Exchange) -> web.Response:
    return _file("index.html")


@endpoint("admin")
async def page_file(request: web.Request, ex: Exchange) -> web.Response:
    return _file(request.match_info["file"])


def add_ui_routes(r: Routes) -> None:
    r.get("/_mock/ui", to_page, "admin.ui.redirect")
    r.get("/_mock/ui/", page, "admin.ui")
    r.get("/_mock/ui/{file}", page_file, "admin.ui.file")
