"""``mockgateway serve``: run the gateway until SIGINT or SIGTERM, saying where it listens."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import sys

from ._config import GatewayConfig, load_config
from ._server import serve


def _say(text: str) -> None:
    """Print a progress line. A reader that has stopped listening (``mockgateway serve | head -1``)
    is not an error: the gateway goes on serving, and later lines go nowhere."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _load(path: str | None) -> GatewayConfig:
    return load_config(path) if path else GatewayConfig()


async def _serve(config: GatewayConfig, host: str | None, port: int | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    async with serve(config, host=host, port=port) as running:
        # Everything made at start-up lives as long as the process: keep the collector from
        # walking it again on every full collection.
        gc.freeze()
        _say(f"mockgateway listening on {running.url}")
        model = config.models[0]
        _say(
            f"  generate: POST {running.url}/{model.id}/v1/{model.operation}\n"
            f"  status:   GET  {running.url}/v2/requests/status/{{request_id}}\n"
            f"  admin:    {running.url}/_mock/health"
        )
        await stop.wait()
    _say("mockgateway stopped")


def run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    asyncio.run(_serve(config, args.host, args.port))
    return 0
