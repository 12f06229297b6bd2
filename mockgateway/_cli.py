"""The ``mockgateway`` command: ``serve`` runs the gateway until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

from . import __version__
from ._config import GatewayConfig, load_config
from ._errors import ConfigError
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


def _cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args.config)
    asyncio.run(_serve(config, args.host, args.port))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockgateway",
        description="A local emulator of the OmniHuman v1.5 lipsync video API.",
    )
    parser.add_argument("--version", action="version", version=f"mockgateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("serve", help="run the gateway until interrupted")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080; 0 picks a free one)")
    p.add_argument(
        "--config", default=None, metavar="FILE", help="TOML configuration / scenario file"
    )
    p.set_defaults(func=_cmd_serve)
    from .checker._cli import add_check_command

    add_check_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"mockgateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mockgateway: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
