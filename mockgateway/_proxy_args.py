"""The ``proxy`` and ``calibrate`` commands' arguments.

Apart from the proxy, so that ``mockgateway --help`` never loads it: the work is in
:mod:`mockgateway.proxy._command` and :mod:`mockgateway.proxy._calibrate_command`, imported when
the command runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._argtypes import base_url, har_path, host_name, port_number, readable_file, writable_path
from ._token import TOKEN_RULE, token_ok

DEFAULT_PROXY_PORT = 8090


def operator_token(text: str) -> str:
    """``--operator-token``: what an operator token may be (:mod:`mockgateway._token`)."""
    if not token_ok(text):
        raise argparse.ArgumentTypeError(TOKEN_RULE)  # the token itself is never echoed
    return text


def add_upstream_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    """The options ``proxy`` and ``check --upstream`` share."""
    p.add_argument(
        "--upstream",
        type=base_url,
        required=required,
        metavar="URL",
        help="the gateway to forward to, e.g. https://gateway.pixazo.ai"
        + ("" if required else " (judge the client against it instead of a local gateway)"),
    )
    p.add_argument(
        "--allow-billable",
        action="store_true",
        help="forward generate requests, which cost money upstream (refused with 402 otherwise)",
    )
    p.add_argument(
        "--webhook-base-url",
        type=base_url,
        default=None,
        metavar="URL",
        help="where the upstream can reach this proxy; callbacks are relayed to the client's "
        "X-Webhook-URL through it",
    )
    p.add_argument(
        "--known-drift",
        type=readable_file,
        default=None,
        metavar="FILE",
        help="TOML with [[known]] match = 'drift id' entries reported as info",
    )


def add_proxy_command(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "proxy",
        help="forward a client to the real gateway, checking every answer",
        description="Forward the documented requests to --upstream with the client's key, check "
        "every answer against the contract (drift), guard spend, and record the run. The first "
        "line printed is the proxy's URL; Ctrl-C or SIGTERM stop it, then the spend is printed. "
        "Exit status 1 when a documented behaviour drifted.",
    )
    add_upstream_options(p, required=True)
    p.add_argument("--host", type=host_name, default="127.0.0.1", help="address to bind")
    p.add_argument(
        "--port",
        type=port_number,
        default=DEFAULT_PROXY_PORT,
        help=f"port (default {DEFAULT_PROXY_PORT}; 0 picks a free one)",
    )
    p.add_argument(
        "--budget",
        metavar="USD",
        default=None,
        help="with --allow-billable: refuse generate once the run's spend reaches USD",
    )
    p.add_argument(
        "--record",
        type=har_path,
        default=None,
        metavar="FILE.har",
        help="write every exchange, with each job's transition times, as HAR 1.2",
    )
    p.add_argument(
        "--report",
        type=writable_path,
        action="append",
        default=[],
        metavar="FILE",
        help="write the drift report: FILE.json or FILE.xml (JUnit); repeatable",
    )
    p.add_argument(
        "--config",
        type=readable_file,
        default=None,
        metavar="FILE",
        help="gateway TOML: model prices ([[models]]), [billing] and [webhooks] allow_hosts",
    )
    p.add_argument(
        "--operator-token",
        type=operator_token,
        default=None,
        metavar="TOKEN",
        help="require Authorization: Bearer TOKEN on the proxy's /_mock/ views (journal, drift, "
        "spend, health; overrides [server] operator_token)",
    )
    p.set_defaults(func=_run_proxy)


def add_calibrate_command(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "calibrate",
        help="fit a scenario file from proxy recordings",
        description="Fit [delays], [[faults]] and 429 behaviour from HAR files written by "
        "'mockgateway proxy --record'; the scenario goes to stdout, the fit's quality to stderr.",
    )
    p.add_argument("har", nargs="+", type=readable_file, metavar="RUN.har")
    p.set_defaults(func=_run_calibrate)


def _run_proxy(args: argparse.Namespace) -> int:
    from .proxy._command import run

    return run(args)


def _run_calibrate(args: argparse.Namespace) -> int:
    from .proxy._calibrate_command import run

    return run(args)
