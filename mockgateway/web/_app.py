"""The gateway's aiohttp application: every route, bound to one gateway."""

from __future__ import annotations

from aiohttp import web

from .._gateway import Gateway
from .._metrics import Metrics
from ._admin import add_admin_routes
from ._admin_contract import add_contract_routes
from ._admin_faults import add_fault_admin_routes
from ._admin_verdict import add_verdict_routes
from ._api import generate, media, sample, samples, status, unknown
from ._bind import METRICS
from ._hot import BaseHandler, hot_dispatch
from ._operator import OperatorRoutes
from ._ui import add_ui_routes

STATUS_PATH = "/v2/requests/status/{request_id}"
GENERATE_PATH = "/{model_id}/v1/{operation}"


def make_app(gateway: Gateway, *, scheme: str = "http") -> web.Application:
    """The gateway's application; ``scheme`` is what it is served over (``https`` with TLS)."""
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[METRICS] = Metrics()
    routes = OperatorRoutes(app, gateway, scheme)
    routes.get(STATUS_PATH, status, "status")
    routes.add("POST", GENERATE_PATH, generate, "generate")
    routes.get("/v1/{request_id}/{filename}", media, "media")
    routes.get("/_mock/samples", samples, "admin.samples")
    routes.get("/_mock/samples/{name}", sample, "admin.sample")
    add_admin_routes(routes)
    add_contract_routes(routes)
    add_fault_admin_routes(routes)
    add_verdict_routes(routes)
    add_ui_routes(routes)
    routes.add("*", "/{tail:.*}", unknown, "unknown")
    return app


def serving_handler(app: web.Application, gateway: Gateway, fallback: BaseHandler) -> BaseHandler:
    """What the server hands each request to: the hot routes (a status poll, a generate on a
    model the gateway serves) found without the router walk, the rest to ``fallback`` (the
    application's own dispatch). See :mod:`mockgateway.web._hot`."""
    paths = (
        GENERATE_PATH.format(model_id=m.id, operation=m.operation)
        for m in gateway.lifecycle.models.values()
    )
    return hot_dispatch(app, fallback, paths)
