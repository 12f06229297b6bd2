"""``GET /_mock/metrics``: the gateway's metrics in the Prometheus text format ([mock])."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from .._billing import Movement, money_str
from .._gateway import Gateway
from .._jobs import Status
from .._metrics import CONTENT_TYPE, WEBHOOK_OUTCOMES, StateSnapshot, render, webhook_outcome
from ._bind import METRICS, endpoint
from ._exchange import Exchange


def snapshot(gateway: Gateway) -> StateSnapshot:
    """Jobs, webhook attempts and money as the gateway holds them now."""
    jobs = dict.fromkeys((s.value for s in Status), 0)
    for job in gateway.jobs.values():
        jobs[job.status.value] += 1
    attempts = dict.fromkeys(WEBHOOK_OUTCOMES, 0)
    for delivery in gateway.webhooks.deliveries:
        for outcome in delivery.outcomes:
            attempts[webhook_outcome(outcome["status"], outcome["error"])] += 1
    held = charged = Decimal(0)
    for wallet in gateway.wallets.values():
        held += wallet.held
        charged += sum(
            (e.amount for e in wallet.ledger if e.movement is Movement.CHARGE), Decimal(0)
        )
    return StateSnapshot(
        jobs=jobs,
        webhook_attempts=attempts,
        money_held=money_str(held),
        money_charged=money_str(charged),
    )


@endpoint("admin")
async def metrics(request: web.Request, ex: Exchange) -> web.Response:
    text = render(request.app[METRICS], snapshot(ex.gateway))
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})
