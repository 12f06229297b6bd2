"""``mockgateway check``: run a client against a fresh gateway (or read a saved journal) and judge.

Exit status: 0 when no error-severity rule was broken, the client made requests to the gateway,
stayed within ``--budget`` and succeeded; 1 when a rule was broken, the client made no request
("no traffic") or the run cost more than the budget; 3 when only the client itself failed
(non-zero exit, timeout, could not start); 2 for a usage or configuration error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .._billing import parse_money
from .._errors import TlsError
from ._engine import RULES, check
from ._model import Verdict
from ._report_files import REPORT_SUFFIXES, write_report
from ._report_text import render_text
from ._run import DEFAULT_API_KEY, DEFAULT_TIMEOUT, load_saved, load_setup, run_check

EXIT_OK = 0
EXIT_RULES = 1
EXIT_USAGE = 2
EXIT_CLIENT = 3


def add_check_command(commands: Any) -> None:
    """Register ``check`` on the ``mockgateway`` command's subparsers."""
    p: argparse.ArgumentParser = commands.add_parser(
        "check",
        help="judge a client against the documented contract",
        description="Serve a gateway on a free port, run CMD against it with MOCKGATEWAY_URL, "
        "MOCKGATEWAY_API_KEY and MOCKGATEWAY_SPEED set, and judge its requests.",
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
    p.add_argument("--list-rules", action="store_true", help="list the rules and exit")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the verdict's first line")
    p.add_argument("cmd", nargs=argparse.REMAINDER, help="the client command, after --")
    p.set_defaults(func=run)


def _exit_code(verdict: Verdict) -> int:
    if not verdict.contract_passed or verdict.over_budget:
        return EXIT_RULES
    if verdict.client_run is not None and verdict.client_run.failed:
        return EXIT_CLIENT
    if verdict.no_traffic:
        return EXIT_RULES
    return EXIT_OK


def list_rules() -> str:
    lines = []
    for r in RULES:
        lines.append(f"{r.id}  [{r.severity.value}, {r.source.value}]")
        lines.append(f"    {r.statement}")
        lines.append(f"    how to fix: {r.how_to_fix}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    if args.list_rules:
        print(list_rules(), end="")
        return EXIT_OK
    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if args.journal and command:
        print("mockgateway check: give either --journal FILE or a command, not both",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    if not args.journal and not command:
        print("mockgateway check: no command given; usage: mockgateway check -- CMD [ARGS...]",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    for report in args.report:
        if Path(report).suffix.lower() not in REPORT_SUFFIXES:
            print(f"mockgateway check: --report must end in .xml, .json or .har, got {report!r}",
                  file=sys.stderr)  # fmt: skip
            return EXIT_USAGE
    budget = None
    if args.budget is not None:
        try:
            budget = parse_money(args.budget)
        except ValueError as exc:
            print(f"mockgateway check: --budget: {exc}", file=sys.stderr)
            return EXIT_USAGE
    if args.speed is not None and args.speed <= 0:
        print("mockgateway check: --speed must be positive", file=sys.stderr)
        return EXIT_USAGE
    setup = load_setup(args.config)
    if args.journal:
        entries = load_saved(args.journal)
        verdict = check(entries, setup.checker, require_traffic=True, budget=budget)
    else:
        sys.stdout.flush()
        try:
            verdict, entries = run_check(
                command,
                setup=setup,
                api_key=args.api_key,
                speed=args.speed,
                timeout=args.timeout,
                tls=args.tls,
                budget=budget,
            )
        except TlsError as exc:
            print(f"mockgateway check: --tls: {exc}", file=sys.stderr)
            return EXIT_USAGE
    text = render_text(verdict)
    print(text.splitlines()[0] if args.quiet else text, end="\n" if args.quiet else "")
    for report in args.report:
        write_report(verdict, Path(report), entries)
    return _exit_code(verdict)
