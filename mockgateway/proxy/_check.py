"""``mockgateway check --upstream URL -- CMD``: the client runs against the upstream through the
proxy, and the checker's rules judge the proxy's journal exactly as they judge the gateway's."""

from __future__ import annotations

import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from .._journal import JournalEntry
from ..checker._engine import check
from ..checker._model import Verdict
from ..checker._run import CheckSetup, client_env, run_client
from ..models import ModelSpec
from ._drift_log import Known
from ._proxy import Proxy, ProxySettings
from ._serve import proxy_in_thread


def run_upstream_check(
    command: Sequence[str],
    *,
    setup: CheckSetup,
    upstream: str,
    api_key: str,
    timeout: float,
    budget: Decimal | None = None,
    allow_billable: bool = False,
    webhook_base_url: str | None = None,
    known: tuple[Known, ...] = (),
    log: TextIO | None = None,
    port: int = 0,
    record: Path | None = None,
    cwd: str | None = None,
    stdout: Any = None,
    stderr: Any = None,
    model: ModelSpec | None = None,
) -> tuple[Verdict, list[JournalEntry], Proxy]:
    """Serve the proxy, run the client against it, judge what the client did; the proxy comes
    back too, with the drifts and the spend of the run. With ``record``, every exchange is
    recorded there (:meth:`Proxy.finish_recording` writes the HAR). ``model``: the model the
    client is told to call (``MOCKGATEWAY_GENERATE_URL``)."""
    settings = ProxySettings(
        upstream=upstream,
        webhook_base_url=webhook_base_url,
        config=setup.gateway,
        allow_billable=allow_billable,
        budget=budget,
        known=known,
        record=record,
    )
    with proxy_in_thread(settings, log=log, port=port) as running:
        env = client_env(running.url, api_key, 1.0, os.environ, model=model)
        client = run_client(command, env, timeout=timeout, cwd=cwd, stdout=stdout, stderr=stderr)
        running.settle()
        proxy = running.proxy
        entries: list[JournalEntry] = running.read(proxy.entries)
        billing = running.read(lambda: {rid: proxy.spend.billing(rid) for rid in proxy.spend.jobs})
    verdict = check(
        entries,
        setup.checker,
        client_run=client,
        require_traffic=True,
        budget=budget,
        billing={rid: record for rid, record in billing.items() if record is not None},
        models=setup.gateway.models,
    )
    return verdict, entries, proxy
