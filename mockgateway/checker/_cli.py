"""``mockgateway check``'s work: run a client against a fresh gateway or a saved journal, judge.

Exit status: 0 when no error-severity rule was broken, the client made requests to the gateway,
stayed within ``--budget`` and succeeded; 1 when a rule was broken, the client made no request
("no traffic") or the run cost more than the budget; 3 when only the client itself failed
(non-zero exit, timeout, could not start); 2 for a usage or configuration error. With
``--upstream``, 1 also when the upstream drifted from a documented behaviour.
Its arguments are in :mod:`mockgateway._check_args`.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
from pathlib import Path

from .._billing import parse_money
from .._check_defaults import SPEED_RULE, speed_ok
from .._errors import ConfigError, TlsError
from ..proxy._check import run_upstream_check
from ..proxy._drift_log import load_known
from ..proxy._proxy import Proxy
from ._engine import RULES, check
from ._model import Verdict
from ._report_files import REPORT_SUFFIXES, write_report
from ._report_text import render_text
from ._run import load_saved, load_setup, run_check, served_model

EXIT_OK = 0
EXIT_RULES = 1
EXIT_USAGE = 2
EXIT_CLIENT = 3


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


def _argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, before anything starts (a report that cannot be written
    is found now, not after the client has run); None when nothing is."""
    for report in args.report:
        if Path(report).suffix.lower() not in REPORT_SUFFIXES:
            return f"--report must end in .xml, .json or .har, got {report!r}"
        parent = Path(report).parent
        if not parent.is_dir():
            return f"--report: no directory {str(parent)!r} to write {report!r} in"
    if args.speed is not None and not speed_ok(args.speed):
        return f"--speed {SPEED_RULE}, got {args.speed:g}"
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        return f"--timeout must be a positive number of seconds, got {args.timeout:g}"
    if not args.api_key:
        return "--api-key must not be empty"
    upstream_only = ("--allow-billable", "--webhook-base-url", "--known-drift", "--proxy-port")
    given = [f for f in upstream_only if getattr(args, f[2:].replace("-", "_"), None)]
    if args.upstream is None and given:
        return f"{given[0]} applies to --upstream only"
    if args.upstream is not None and (args.speed is not None or args.tls or args.journal):
        return "--upstream runs the client against that gateway: drop --speed, --tls and --journal"
    if args.journal and args.model is not None:
        return "--model names the model a client is to call; a saved journal has no client"
    return None


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
    drifted = False
    proxy: Proxy | None = None
    record: Path | None = None
    problem = _argument_problem(args)
    if problem is not None:
        print(f"mockgateway check: {problem}", file=sys.stderr)
        return EXIT_USAGE
    budget = None
    if args.budget is not None:
        try:
            budget = parse_money(args.budget)
        except ValueError as exc:
            print(f"mockgateway check: --budget: {exc}", file=sys.stderr)
            return EXIT_USAGE
    setup = load_setup(args.config)
    try:
        model = served_model(setup.gateway.models, args.model) if not args.journal else None
    except ConfigError as exc:
        print(f"mockgateway check: --model: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.upstream is not None:
        known = load_known(args.known_drift) if args.known_drift else ()
        # the proxy's recording, every exchange as it happens (see the reports below)
        record = next((Path(r) for r in args.report if Path(r).suffix.lower() == ".har"), None)
        sys.stdout.flush()
        verdict, entries, proxy = run_upstream_check(
            command,
            setup=setup,
            upstream=args.upstream,
            api_key=args.api_key,
            timeout=args.timeout,
            budget=budget,
            allow_billable=args.allow_billable,
            webhook_base_url=args.webhook_base_url,
            known=known,
            log=sys.stderr,
            port=args.proxy_port,
            record=record,
            model=model,
        )
        print(f"mockgateway check: upstream {proxy.spend.summary()}", file=sys.stderr)
        drifted = proxy.drifts.failed
    elif args.journal:
        entries = load_saved(args.journal)
        verdict = check(
            entries,
            setup.checker,
            require_traffic=True,
            budget=budget,
            models=setup.gateway.models,
        )
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
                model=args.model,
            )
        except TlsError as exc:
            print(f"mockgateway check: --tls: {exc}", file=sys.stderr)
            return EXIT_USAGE
    text = render_text(verdict)
    print(text.splitlines()[0] if args.quiet else text, end="\n" if args.quiet else "")
    for report in args.report:
        if proxy is not None and Path(report).suffix.lower() == ".har":
            continue  # the proxy's recording, written below
        write_report(verdict, Path(report), entries)
    if proxy is not None and record is not None:
        # every exchange with each job's transitions, for calibrate (a copy for each .har)
        proxy.finish_recording()
        for report in args.report:
            if Path(report).suffix.lower() == ".har" and Path(report) != record:
                shutil.copyfile(record, report)
    if drifted:
        print("mockgateway check: the upstream drifted from a documented behaviour",
              file=sys.stderr)  # fmt: skip
        return EXIT_RULES
    return _exit_code(verdict)
