"""The ``check`` command's arguments and their defaults.

Apart from the checker, so that ``mockgateway --help`` or ``serve`` never loads it: the work is in
:mod:`mockgateway.checker._cli`, imported when ``check`` runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import port_number
from ._check_defaults import DEFAULT_API_KEY, DEFAULT_TIMEOUT
from ._proxy_args import add_upstream_options


def add_check_command(commands: Any) -> None:
    """Register ``check`` on the ``mockgateway`` command's subparsers."""
    p: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="judge a client against the documented contract",
        description="Serve a gateway on a free port, run CMD against it with MOCKGATEWAY_URL, "
        "MOCKGATEWAY_API_KEY, MOCKGATEWAY_SPEED, MOCKGATEWAY_MODEL and MOCKGATEWAY_GENERATE_URL "
        "set, and judge its requests, each against the model it called.",
        usage="mockgateway check [options] -- CMD [ARGS...]\n"
        "       mockgateway check [options] --journal FILE",
    )
    p.add_argument("--config", metavar="FILE", help="gateway TOML; its [checker] table tunes rules")
    p.add_argument(
        "--report",
        metavar="FILE",
        action="append",
        default=[],
        help="write a report: FILE.xml (JUnit), FILE.json or FILE.har (the journal); repeatable",
    )
    p.add_argument("--journal", metavar="FILE", help="judge a saved journal instead of running")
    p.add_argument("--api-key", default=DEFAULT_API_KEY, help="key handed to the client")
    p.add_argument(
        "--model",
        metavar="ID",
        help="the model the client is to call, in MOCKGATEWAY_MODEL and MOCKGATEWAY_GENERATE_URL "
        "(default: the first one the configuration serves)",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=None,
        help="run the gateway clock N times faster (rules still measure gateway time)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        help=f"stop the client after this many real seconds (default {DEFAULT_TIMEOUT:g})",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS from a local CA; the client finds its certificate in "
        "MOCKGATEWAY_CA_FILE, SSL_CERT_FILE, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE and "
        "NODE_EXTRA_CA_CERTS",
    )
    p.add_argument(
        "--budget",
        metavar="USD",
        help="fail when the run would have cost more than USD on the real gateway",
    )
    add_upstream_options(p, required=False)
    p.add_argument(
        "--proxy-port",
        type=port_number,
        default=0,
        metavar="P",
        help="with --upstream: the port the proxy listens on (default: a free one), for "
        "--webhook-base-url to lead to",
    )
    p.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict's first line")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="the client command, after --")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from .checker._cli import run

    return run(args)
