"""``mockgateway proxy``'s work: serve the checking proxy until SIGINT or SIGTERM, then report.

Exit status: 0 when no documented behaviour drifted; 1 when one did (or the proxy cannot
listen); 2 for a usage or configuration error. Its arguments are in
:mod:`mockgateway._proxy_args`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from decimal import Decimal
from pathlib import Path

from .._billing import parse_money
from .._config import GatewayConfig
from .._connections import ListenFailed
from .._serve_command import _listen_error as listen_error
from ..checker._run import load_setup
from ._drift_log import Known, load_known
from ._drift_report import REPORT_SUFFIXES, write_report
from ._proxy import Proxy, ProxySettings
from ._serve import serve_proxy

EXIT_OK = 0
EXIT_DRIFT = 1  # also: the proxy cannot listen
EXIT_USAGE = 2


def usage_problem(
    args: argparse.Namespace, name: str = "proxy"
) -> tuple[str | None, Decimal | None]:
    """What is wrong with the options (None when nothing is), and the budget they give."""
    for report in getattr(args, "report", []):
        if Path(report).suffix.lower() not in REPORT_SUFFIXES:
            return f"--report must end in .json or .xml, got {report!r}", None
    budget = None
    if args.budget is not None:
        try:
            budget = parse_money(args.budget)
        except ValueError as exc:
            return f"--budget: {exc}", None
        if not args.allow_billable:
            return "--budget caps billable requests: give --allow-billable with it", None
    return None, budget


def settings_from(
    args: argparse.Namespace, config: GatewayConfig, budget: Decimal | None
) -> ProxySettings:
    known: tuple[Known, ...] = load_known(args.known_drift) if args.known_drift else ()
    return ProxySettings(
        upstream=args.upstream,
        webhook_base_url=args.webhook_base_url,
        config=config,
        allow_billable=args.allow_billable,
        budget=budget,
        known=known,
        record=Path(args.record) if getattr(args, "record", None) else None,
        operator_token=getattr(args, "operator_token", None) or config.server.operator_token,
    )


def finish(proxy: Proxy, args: argparse.Namespace) -> int:
    """Print the spend, write the recording and the reports; the exit status."""
    print(f"mockgateway proxy: {proxy.spend.summary()}", file=sys.stderr)
    log = proxy.drifts
    counts = log.to_dict()["counts"]
    print(
        f"mockgateway proxy: drift: {counts['error']} documented, {counts['warning']} other, "
        f"{counts['info']} known",
        file=sys.stderr,
    )
    proxy.finish_recording()
    for report in getattr(args, "report", []):
        write_report(log, Path(report), {"spend": proxy.spend.to_dict()})
    return EXIT_DRIFT if log.failed else EXIT_OK


async def _serve(args: argparse.Namespace, settings: ProxySettings) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve_proxy(settings, host=args.host, port=args.port) as running:
            shown = running.proxy.upstream.shown
            print(f"{running.url} (mockgateway proxy to {shown})", flush=True)
            await stop.wait()
            proxy = running.proxy
    except ListenFailed as exc:
        print(f"mockgateway proxy: {listen_error(args.host, args.port, exc)}", file=sys.stderr)
        return EXIT_DRIFT
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return finish(proxy, args)


def run(args: argparse.Namespace) -> int:
    problem, budget = usage_problem(args)
    if problem is not None:
        print(f"mockgateway proxy: {problem}", file=sys.stderr)
        return EXIT_USAGE
    config = load_setup(args.config).gateway
    settings = settings_from(args, config, budget)
    return asyncio.run(_serve(args, settings))
