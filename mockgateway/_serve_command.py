"""``mockgateway serve``: run the gateway until SIGINT or SIGTERM, saying where it listens.

Loaded when the command runs (its arguments, checked, come from :mod:`mockgateway._cli`), so
``mockgateway --help`` never imports the server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from ._access_log import stderr_logger
from ._config import GatewayConfig, load_config
from ._connections import ListenFailed
from ._errors import TlsError
from ._server import serve
from ._tls import ServerTls, local_ca, own_certificate
from .store import StoreError, state_from_option

YOUNG_COLLECTION_THRESHOLD = 20_000  # allocations between young collections (default 700)


class CannotListen(Exception):
    """The gateway could not open its socket; the message names the address and why."""


def _listen_error(host: str, port: int, exc: OSError) -> CannotListen:
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    reasons = {
        errno.EADDRINUSE: "address already in use",
        errno.EADDRNOTAVAIL: f"{host} is not an address of this machine",
        errno.EACCES: f"permission denied (port {port} may need privileges)",
    }
    reason = reasons.get(exc.errno or 0) or exc.strerror or str(exc)
    return CannotListen(f"cannot listen on {shown}: {reason}")


def _say(text: str) -> None:
    """Print a progress line. A reader that has stopped listening (``mockgateway serve | head -1``)
    is not an error: the gateway goes on serving, and later lines go nowhere."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """``serve``'s options, checked: what to bind, how, and what to write and log."""

    config: GatewayConfig
    host: str
    port: int
    tls: ServerTls | None
    ca_file: Path | None
    access_log: logging.Logger | None


def _tls_options(
    args: argparse.Namespace, parser: argparse.ArgumentParser, host: str
) -> tuple[ServerTls | None, Path | None]:
    if args.key and not args.cert:
        parser.error("--key goes with --cert FILE (the certificate it belongs to)")
    if args.ca_file and args.cert:
        parser.error("--ca-file writes the local CA --tls makes; with --cert the CA is your own")
    if args.ca_file and not args.tls:
        parser.error("--ca-file needs --tls")
    try:
        if args.cert:
            return own_certificate(args.cert, args.key), None
        if args.tls:
            return local_ca(host), Path(args.ca_file) if args.ca_file else None
    except TlsError as exc:
        parser.error(f"--cert: {exc}" if args.cert else f"--tls: {exc}")
    return None, None


def serve_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> ServeOptions:
    """Everything ``serve`` needs, from its flags (the environment already applied by the CLI);
    a problem is a usage error."""
    config = load_config(args.config) if args.config else GatewayConfig()
    if args.state is not None:
        if not args.state.strip():
            parser.error("--state needs memory, a file path or a redis:// URL")
        scheme = args.state.partition("://")[0]
        if "://" in args.state and scheme not in ("redis", "rediss", "unix"):
            parser.error(
                f"--state: {scheme}:// is no state store; give memory, a SQLite file path or a"
                " redis://, rediss:// or unix:// URL"
            )
        config = config.with_(state=state_from_option(args.state, config.state.retention))
    if args.operator_token:
        config = config.with_(server=replace(config.server, operator_token=args.operator_token))
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    tls, ca_file = _tls_options(args, parser, host)
    access_log = stderr_logger() if args.verbose else None
    return ServeOptions(config, host, port, tls, ca_file, access_log)


def generate_lines(url: str, config: GatewayConfig) -> list[str]:
    """One ``generate:`` line per model the gateway serves, in declared order."""
    served = [m for m in config.models if m.enabled]
    lines = [f"POST {url}/{m.id}/v1/{m.operation}" for m in served] or ["none (no model enabled)"]
    return [f"  generate:  {line}" for line in lines]


async def _serve(options: ServeOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    with contextlib.ExitStack() as files:
        ca_file = options.ca_file
        if options.tls is not None and options.tls.ca_pem is not None:
            if ca_file is None:  # kept for the life of the gateway, so a client can trust it
                ca_file = Path(files.enter_context(tempfile.TemporaryDirectory())) / "ca.pem"
            ca_file.write_bytes(options.tls.ca_pem)
        try:
            async with serve(
                options.config,
                host=options.host,
                port=options.port,
                tls=options.tls or False,
                access_log=options.access_log,
            ) as running:
                # Everything made at start-up lives as long as the process: keep the collector
                # from walking it again on every full collection.
                gc.freeze()
                # An advance or a burst of submits keeps thousands of young objects (tasks,
                # jobs) alive at once; at the default threshold (700 allocations) the collector
                # walks them again and again, costing about as much CPU as the work itself.
                gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
                _say(f"mockgateway listening on {running.url}")
                _say(f"  dashboard: {running.url}/_mock/ui/")
                _say(
                    "\n".join(generate_lines(running.url, options.config))
                    + f"\n  status:    GET  {running.url}/v2/requests/status/{{request_id}}\n"
                    f"  admin:     {running.url}/_mock/health"
                )
                if ca_file is not None:
                    _say(f"  CA:        {ca_file}")
                await stop.wait()
        except ListenFailed as exc:
            raise _listen_error(options.host, options.port, exc) from None
    _say("mockgateway stopped")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Serve until stopped: 0 after a clean stop, 1 when the gateway cannot listen."""
    options = serve_options(args, parser)
    try:
        asyncio.run(_serve(options))
    except CannotListen as exc:
        print(f"mockgateway: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:  # named by its setting, like a configuration error
        print(f"mockgateway: the state store cannot be used: {exc}", file=sys.stderr)
        return 2
    return 0
