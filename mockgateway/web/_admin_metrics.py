"""``GET /_mock/metrics``: the gateway's metrics in the Prometheus text format ([mock])."""

from __future__ import annotations

from decimal import Decimal

from aiohttp import web

from .._billing import money_str
from .._gateway import Gateway
from .._jobs import Status
from .._metrics import CONTENT_TYPE, WEBHOOK_OUTCOMES, StateSnapshot, render
from ._bind import METRICS, endpoint
from ._exchange import Exchange


async def snapshot(gateway: Gateway) -> StateSnapshot:
    """Jobs, webhook attempts and money as the store holds them now (its running counts)."""
    store = gateway.store
    counts = await store.job_counts()
    jobs = {s.value: counts.get(s, 0) for s in Status}
    attempts = dict.fromkeys(WEBHOOK_OUTCOMES, 0)
    for name, count in (await store.delivery_outcomes()).items():
        attempts[name] = attempts.get(name, 0) + count
    held = charged = Decimal(0)
    cursor: str | None = None
    while True:
        page = await store.list_wallets(limit=1000, cursor=cursor)
        for wallet in page.items:
            held += wallet.held
            charged += wallet.charged
        cursor = page.next_cursor
        if cursor is None:
            break
    return StateSnapshot(
        jobs=jobs,
        webhook_attempts=attempts,
        money_held=money_str(held),
        money_charged=money_str(charged),
    )


@endpoint("admin")
async def metrics(request: web.Request, ex: Exchange) -> web.Response:
    text = render(request.app[METRICS], await snapshot(ex.gateway))
    return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})
