"""A gateway of ours that drifts from the contract, as its own process, for the proxy's tests.

    python tests/drift_upstream.py '{"lower_status": true}' serve --port 0 --config FILE

The first argument is a JSON object of rewrites applied to the gateway's status answers and
webhook bodies (what no configuration of the gateway can make it do); the rest is
``mockgateway``'s command line.

* ``lower_status``: status values in status answers in lower case (``completed``);
* ``extra_field``: a field added to every status answer (``{"name": value}``);
* ``drop_field``: a field taken out of every status answer;
* ``short_timestamps``: ``created_at`` without its milliseconds (``...T10:00:15Z``);
* ``teapot_every``: every N-th status poll answers ``418`` with a body of no documented shape;
* ``regress``: the poll after a job's first COMPLETED answer says PROCESSING again;
* ``media_base``: media URLs on another origin (``http://127.0.0.2:P``), as on a CDN.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

import mockgateway._server as server
from mockgateway._cli import main

REWRITES: dict[str, Any] = json.loads(sys.argv[1])
_polls = {"n": 0}
_completed: dict[str, int] = {}


def _rewrite_status(body: dict[str, Any], *, poll: bool = True) -> dict[str, Any]:
    rid = body.get("request_id", "")
    if poll and REWRITES.get("regress") and body.get("status") == "COMPLETED":
        seen = _completed[rid] = _completed.get(rid, 0) + 1
        if seen == 2:
            body = {**body, "status": "PROCESSING", "output": None, "completed_at": None}
    if REWRITES.get("lower_status") and isinstance(body.get("status"), str):
        body["status"] = body["status"].lower()
    for name, value in (REWRITES.get("extra_field") or {}).items():
        body[name] = value
    if REWRITES.get("drop_field"):
        body.pop(REWRITES["drop_field"], None)
    output = body.get("output")
    if REWRITES.get("media_base") and isinstance(output, dict):
        output["media_url"] = [
            REWRITES["media_base"] + "/" + url.split("/", 3)[3] for url in output["media_url"]
        ]
    if REWRITES.get("short_timestamps") and isinstance(body.get("created_at"), str):
        body["created_at"] = body["created_at"][:19] + "Z"
    return body


@web.middleware
async def rewrite(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    response = await handler(request)
    if not request.path.startswith("/v2/requests/status/") or not isinstance(
        response, web.Response
    ):
        return response
    _polls["n"] += 1
    every = REWRITES.get("teapot_every")
    if every and _polls["n"] % every == 0:
        return web.Response(status=418, text="I'm a teapot", content_type="text/plain")
    if response.status != 200 or response.body is None:
        return response
    body = _rewrite_status(json.loads(bytes(response.body)))  # type: ignore[arg-type]
    return web.json_response(body, status=200)


_make_app = server.make_app
_make_sender = server.aiohttp_sender


def _rewriting_sender(session: Any) -> Any:
    send = _make_sender(session)

    async def rewritten(url: str, body: bytes, headers: dict[str, str], timeout: float) -> Any:
        data = _rewrite_status(json.loads(body), poll=False)
        return await send(url, json.dumps(data).encode(), headers, timeout)

    return rewritten


def _app_with_rewrites(*args: Any, **kwargs: Any) -> web.Application:
    app = _make_app(*args, **kwargs)
    app.middlewares.append(rewrite)
    return app


server.make_app = _app_with_rewrites  # type: ignore[assignment]
server.aiohttp_sender = _rewriting_sender

if __name__ == "__main__":
    sys.exit(main(sys.argv[2:]))
