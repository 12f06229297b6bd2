"""The hot routes found without walking the router: a status poll and each model's generate.

aiohttp's application finds a request's route by walking its router, then builds the handler's
middleware chain, for every request; for the two routes a client calls most that is 5 to 8% of
the instructions a request costs (``bench/bench_instructions.py``). :func:`hot_dispatch` wraps
the application's request handler: a request for one of these routes gets the very match the
router would give (the same route, the same path values, the application attached and frozen, as
aiohttp's own dispatch does) and goes straight to the route's handler; every other request goes
through the application as before.

Only paths the router is known to resolve the same way are taken:

- a generate request's path is one of the exact paths (``/{model_id}/v1/{operation}`` for each
  model the gateway serves), once the application's own dispatch has resolved it to the generate
  route (a route depends on the path alone, so the next request on that path gets the same);
- a status poll's path is the status prefix and one path segment of characters that need no
  decoding and no normalising (not ``.`` or ``..``), and no other resource lies under that prefix.

Anything else (a query string, a percent-escape, a request with ``Expect``, an application with
middleware or domain-matched sub-applications) takes the application's own path.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import hdrs, web
from aiohttp.web_urldispatcher import MatchedSubAppResource

from .._memo import Memo

BaseHandler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]

# One path segment the router takes as it comes: unreserved characters, not starting with a dot
# (so never "." or "..", which URL handling may read as steps up the path: left to the router).
_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]*")
# How many status paths keep their match made (about 600 bytes each, with the path).
POLLED_PATHS = 1024


def _route(app: web.Application, name: str, method: str) -> web.AbstractRoute | None:
    resource = app.router.named_resources().get(name)
    if resource is None:
        return None
    return next((r for r in resource if r.method == method), None)


def _status_prefix(app: web.Application, status: web.AbstractRoute | None) -> str | None:
    """The fixed part of the status route's path (``/v2/requests/status/``), read from the route
    as registered: None unless the path is that prefix and ``{request_id}`` alone, and the
    router would try no resource before it on a path under the prefix (it tries the longest path
    prefixes first, and the status resource is listed under the prefix without its slash, so
    none other may lie under that)."""
    resource = status.resource if status is not None else None
    if resource is None:
        return None
    prefix, brace, rest = resource.canonical.partition("{")
    if not brace or rest != "request_id}" or not prefix.endswith("/"):
        return None
    alone = all(
        other is resource or not other.canonical.startswith(prefix.rstrip("/"))
        for other in app.router.resources()
    )
    return prefix if alone else None


class HotRoutes:
    """Which requests :func:`hot_dispatch` takes straight to their route, and with what path
    values; what a path resolved to is learnt from the application's own dispatch."""

    def __init__(self, app: web.Application, generate_paths: Iterable[str]) -> None:
        self.status = _route(app, "status", hdrs.METH_GET)
        self.generate = _route(app, "generate", hdrs.METH_POST)
        self.usable = not app.middlewares and not any(
            isinstance(r, MatchedSubAppResource) for r in app.router.resources()
        )
        # the status shortcut's prefix, None when it is off
        self.status_prefix = _status_prefix(app, self.status) if self.usable else None
        generate_ok = self.usable and self.generate is not None
        self._candidates = frozenset(generate_paths) if generate_ok else frozenset()
        self._exact: dict[str, dict[str, str]] = {}  # generate paths resolved, with their values

    def find(self, method: str, raw_path: str) -> tuple[web.AbstractRoute, dict[str, str]] | None:
        """The route and path values of a hot request, None for any other. The values are not
        to be changed (a match copies them)."""
        if method == "GET":
            prefix = self.status_prefix
            if prefix is not None and raw_path.startswith(prefix):
                segment = raw_path[len(prefix) :]
                if _SEGMENT.fullmatch(segment):
                    assert self.status is not None
                    return self.status, {"request_id": segment}
        elif method == "POST":
            found = self._exact.get(raw_path)
            if found is not None:
                assert self.generate is not None
                return self.generate, found  # copied by the match made of it
        return None

    def learn(self, method: str, raw_path: str, resolved: web.UrlMappingMatchInfo) -> None:
        """Note what the application's own dispatch resolved a request to: a generate path of
        a served model is then taken straight (at most one entry per model)."""
        if (
            method == "POST"
            and raw_path in self._candidates
            and raw_path not in self._exact
            and resolved.route is self.generate
        ):
            self._exact[raw_path] = dict(resolved)


def hot_dispatch(
    app: web.Application, fallback: BaseHandler, generate_paths: Iterable[str]
) -> BaseHandler:
    """The request handler to serve ``app`` with: hot routes straight to their handler, the rest
    to ``fallback`` (the application's own). ``generate_paths``: the generate paths to learn."""
    hot = HotRoutes(app, generate_paths)
    if not hot.usable:
        return fallback
    find, learn = hot.find, hot.learn
    match_info = web.UrlMappingMatchInfo
    expect = hdrs.EXPECT
    # A status path's match, made once: a client polls one path many times, and a frozen match
    # is only read (its route, its path values and the application it belongs to).
    polled: Memo[str, web.UrlMappingMatchInfo] = Memo(POLLED_PATHS)
    status = hot.status
    polled_handler = status.handler if status is not None else fallback

    async def dispatch(request: web.BaseRequest) -> web.StreamResponse:
        path = request.raw_path
        method = request.method
        web_request: web.Request = request  # type: ignore[assignment]  # what the server makes
        match = polled.get(path) if method == "GET" else None
        if match is not None and expect not in request.headers:
            web_request._match_info = match
            return await polled_handler(web_request)
        found = find(method, path)
        if found is None or expect in request.headers:
            response = await fallback(request)
            resolved = web_request.match_info
            if isinstance(resolved, match_info):
                learn(method, path, resolved)
            return response
        route, values = found
        match = match_info(values, route)
        match.add_app(app)
        match.freeze()
        if route is status:
            polled.keep(path, match)
        web_request._match_info = match  # as the application's own dispatch sets it
        return await route.handler(web_request)

    return dispatch
