"""The ``mockgateway`` command: ``serve`` runs the gateway until SIGINT or SIGTERM.

This module parses arguments and nothing more: a command's own modules (the server, aiohttp, the
checker) load when that command runs, so ``--help`` and ``--version`` answer at once."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from . import __version__
from ._check_args import add_check_command
from ._errors import ConfigError


def _cmd_serve(args: argparse.Namespace) -> int:
    from ._serve_command import run  # the serving half loads when its command runs

    return run(args)


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
