"""Who may call the operator API, and what of it the journal records.

With an operator token set (``[server] operator_token``, ``serve --operator-token``), every
operator endpoint but the bundled samples and the dashboard's own files answers 401 unless the
request shows ``Authorization: Bearer <token>``. The check wraps only those endpoints when the
application is built: the gateway's own routes (generate, status, media) run exactly as before.

The dashboard's files and its reads (GET with ``X-Mock-Dashboard``) are answered without being
journaled, so a page left open polling the operator API neither fills the journal nor pushes a
client's requests out of it; its changes (POST, PUT, DELETE) are journaled like any operator call.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import istr

from .._errors import operator_token_required
from .._gateway import Gateway
from .._token import shows_token
from ._bind import Endpoint, Routes, bind
from ._exchange import Exchange, Handler, RouteHandler

DASHBOARD_HEADER = istr("X-Mock-Dashboard")
# open whatever the token: a client's inputs may point at the samples (and the page's files,
# ``admin.ui*``, must load before the page can ask for the token)
PUBLIC = frozenset({"admin.samples", "admin.sample"})


def guarded(handler: RouteHandler, token: str) -> RouteHandler:
    """``handler``, answering 401 to a request that does not show ``token``."""

    async def run(request: web.Request, ex: Exchange) -> web.StreamResponse:
        if not shows_token(request.headers.get(hdrs.AUTHORIZATION), token):
            raise operator_token_required()
        return await handler(request, ex)

    return run


class OperatorRoutes(Routes):
    """:class:`Routes` that guard the operator's endpoints (names ``admin.*``) with the token and
    keep the dashboard's reads out of the journal."""

    def __init__(self, app: web.Application, gateway: Gateway, scheme: str = "http") -> None:
        super().__init__(app, gateway, scheme)
        self._token = gateway.config.server.operator_token

    def get(self, path: str, declared: Endpoint, name: str) -> None:
        self._router.add_get(path, self._operator(declared, name, reads=True), name=name)

    def add(self, method: str, path: str, declared: Endpoint, name: str) -> None:
        handler = self._operator(declared, name, reads=method == "GET")
        self._router.add_route(method, path, handler, name=name)

    def _operator(self, declared: Endpoint, name: str, *, reads: bool) -> Handler:
        if name.startswith("admin.ui"):  # the page's own files: neither guarded nor journaled
            return bind(declared, self._gateway, self._metrics, self._scheme, journaled=False)
        if not name.startswith("admin.") or name in PUBLIC:
            return self._bind(declared)
        token = self._token
        if token is not None:
            declared = Endpoint(declared.route, guarded(declared.handler, token))
        journaled = self._bind(declared)
        if not reads:
            return journaled
        quiet = bind(declared, self._gateway, self._metrics, self._scheme, journaled=False)

        async def run(request: web.Request) -> web.StreamResponse:
            headers = request.headers
            if DASHBOARD_HEADER in headers and (
                token is None or shows_token(headers.get(hdrs.AUTHORIZATION), token)
            ):
                return await quiet(request)
            return await journaled(request)

        return run
