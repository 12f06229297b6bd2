"""The ``mockgateway`` command: ``serve`` runs the gateway until SIGINT or SIGTERM; ``check``
judges a client, ``proxy`` checks the real gateway and ``calibrate`` fits a scenario from what it
recorded (each command's work is imported when it runs).

``serve`` takes its address, configuration and operator token from flags or, for containers, from
``MOCKGATEWAY_CONFIG``, ``MOCKGATEWAY_HOST``, ``MOCKGATEWAY_PORT`` and
``MOCKGATEWAY_OPERATOR_TOKEN`` (read here and nowhere else in the package; a flag wins over its
variable, an empty variable counts as unset).

Exit status: 0 after a clean stop; 2 for a usage error (a bad option or variable, TLS files that
cannot be loaded) or a bad configuration file; 1 when the gateway cannot listen (the port is
already in use, the address is not this machine's).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import __version__
from ._argtypes import host_name, port_number, readable_file, writable_path
from ._check_args import add_check_command
from ._errors import ConfigError
from ._proxy_args import add_calibrate_command, add_proxy_command
from ._token import TOKEN_RULE, token_ok

ENV_CONFIG = "MOCKGATEWAY_CONFIG"
ENV_HOST = "MOCKGATEWAY_HOST"
ENV_PORT = "MOCKGATEWAY_PORT"
ENV_OPERATOR_TOKEN = "MOCKGATEWAY_OPERATOR_TOKEN"


def operator_token(text: str) -> str:
    """A token the operator API and the dashboard will ask for (``Authorization: Bearer``)."""
    if not token_ok(text):
        raise argparse.ArgumentTypeError(TOKEN_RULE)  # the token itself is never echoed
    return text


_ENVIRONMENT: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("config", ENV_CONFIG, readable_file),
    ("host", ENV_HOST, host_name),
    ("port", ENV_PORT, port_number),
    ("operator_token", ENV_OPERATOR_TOKEN, operator_token),
)


def apply_environment(
    args: argparse.Namespace, parser: argparse.ArgumentParser, environ: dict[str, str]
) -> None:
    """Fill each serve option left unset from its variable; a bad value is a usage error."""
    for dest, variable, convert in _ENVIRONMENT:
        text = environ.get(variable, "")
        if getattr(args, dest) is not None or not text:
            continue
        try:
            setattr(args, dest, convert(text))
        except argparse.ArgumentTypeError as exc:
            parser.error(f"{variable}: {exc}")


def _cmd_serve(args: argparse.Namespace) -> int:
    apply_environment(args, args.serve_parser, dict(os.environ))
    from ._serve_command import run  # the serving half loads when its command runs

    return run(args, args.serve_parser)


def _add_serve_command(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the gateway until interrupted",
        description="Run the gateway until SIGINT or SIGTERM. The first line printed is its URL. "
        f"{ENV_CONFIG}, {ENV_HOST}, {ENV_PORT} and {ENV_OPERATOR_TOKEN} stand in for --config, "
        "--host, --port and --operator-token.",
    )
    p.add_argument(
        "--host", type=host_name, default=None, help="address to bind (default 127.0.0.1)"
    )
    p.add_argument(
        "--port", type=port_number, default=None, help="port (default 8080; 0 picks a free one)"
    )
    p.add_argument(
        "--config",
        type=readable_file,
        default=None,
        metavar="FILE",
        help="TOML configuration / scenario file",
    )
    p.add_argument(
        "--state",
        default=None,
        metavar="WHERE",
        help="where state lives: memory (default), a SQLite file path (survives restarts), "
        "or redis://HOST:PORT/DB (replicas share it); overrides [state]",
    )
    p.add_argument(
        "--operator-token",
        type=operator_token,
        default=None,
        metavar="TOKEN",
        help="require 'Authorization: Bearer TOKEN' on the operator API /_mock/ and in the "
        "dashboard (overrides [server] operator_token)",
    )
    p.add_argument(
        "-v", "--verbose", action="store_true", help="log one line per request to stderr"
    )
    tls = p.add_argument_group("TLS")
    tls.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a certificate from a local CA made at start (needs trustme: "
        "pip install 'mockgateway[tls]')",
    )
    tls.add_argument(
        "--ca-file",
        type=writable_path,
        default=None,
        metavar="PATH",
        help="with --tls: write the local CA's certificate (PEM) here for clients to trust",
    )
    tls.add_argument(
        "--cert",
        type=readable_file,
        default=None,
        metavar="FILE",
        help="serve HTTPS with this certificate chain (PEM) instead",
    )
    tls.add_argument(
        "--key",
        type=readable_file,
        default=None,
        metavar="FILE",
        help="the private key (PEM) of --cert, unless the --cert file holds it",
    )
    p.set_defaults(func=_cmd_serve, serve_parser=p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockgateway",
        description=(
            "A local emulator of the gateway's asynchronous generation API: OmniHuman v1.5"
            " lipsync built in, other models declared as data."
        ),
    )
    parser.add_argument("--version", action="version", version=f"mockgateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve_command(commands)
    add_check_command(commands)
    add_proxy_command(commands)
    add_calibrate_command(commands)
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
