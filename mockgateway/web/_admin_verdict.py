"""``GET /_mock/verdict``: the client checker's verdict over the journal so far.

The same rules ``mockgateway check`` applies after a run (:func:`mockgateway.checker.check`),
applied now to what the gateway has journaled, with each job's billing as the gateway holds it.
The dashboard's contract view reads it.
"""

from __future__ import annotations

from aiohttp import web

from .._clock import ClockMode
from ..checker._engine import check
from ..checker._settings import CheckerSettings
from ._bind import Routes, endpoint
from ._exchange import Exchange, json_answer


@endpoint("admin")
async def get_verdict(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    settings = CheckerSettings()
    clock = gateway.config.clock
    if clock.mode is ClockMode.SCALED:  # a receiver's answer time is real time, stretched
        settings = settings.at_speed(clock.speed)
    verdict = check(await gateway.journal(), settings, billing=await gateway.bills())
    return json_answer(ex, 200, verdict.to_dict())


def add_verdict_routes(r: Routes) -> None:
    r.get("/_mock/verdict", get_verdict, "admin.verdict")
