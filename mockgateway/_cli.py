"""The ``mockgateway`` command: ``serve`` runs the gateway until SIGINT or SIGTERM.

``serve`` takes its address and configuration from flags or, for containers, from
``MOCKGATEWAY_CONFIG``, ``MOCKGATEWAY_HOST`` and ``MOCKGATEWAY_PORT`` (read here and nowhere else
in the package; a flag wins over its variable, an empty variable counts as unset).

Exit status: 0 after a clean stop; 2 for a usage error (a bad option or variable, TLS files that
cannot be loaded) or a bad configuration file; 1 when the gateway cannot listen (the port is
already in use, the address is not this machine's).
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from ._errors import ConfigError, TlsError

if TYPE_CHECKING:
    import logging

    from ._config import GatewayConfig
    from ._tls import ServerTls

ENV_CONFIG = "MOCKGATEWAY_CONFIG"
ENV_HOST = "MOCKGATEWAY_HOST"
ENV_PORT = "MOCKGATEWAY_PORT"

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


# argument types: each raises ArgumentTypeError with the reason, shown after the option's name --


def port_number(text: str) -> int:
    """A TCP port, 0 (a free one) to 65535."""
    port = int(text) if re.fullmatch(r"[0-9]{1,5}", text) else -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to 65535, got {text!r}")
    return port


def host_name(text: str) -> str:
    """An IP address (IPv6 with or without brackets) or a host name, as the gateway binds it."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    if _HOSTNAME.fullmatch(text) and not re.fullmatch(r"[0-9.]+", text):
        return text
    raise argparse.ArgumentTypeError(f"not an IP address or host name: {text!r}")


def readable_file(text: str) -> str:
    """A file that exists and can be read now (so a typo is caught before anything starts)."""
    try:
        with open(text, "rb"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {text!r}: {exc.strerror}") from None
    return text


def writable_path(text: str) -> str:
    """A file path whose directory exists (the file is written, or replaced, at start)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; give a file path")
    if not path.parent.is_dir():
        raise argparse.ArgumentTypeError(f"no directory {str(path.parent)!r} to write {text!r} in")
    return text


_ENVIRONMENT: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("config", ENV_CONFIG, readable_file),
    ("host", ENV_HOST, host_name),
    ("port", ENV_PORT, port_number),
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


# serve --------------------------------------------------------------------------------------


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
    from ._tls import local_ca, own_certificate

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
    """Everything ``serve`` needs, from flags and environment; a problem is a usage error."""
    from ._access_log import stderr_logger
    from ._config import GatewayConfig, load_config

    apply_environment(args, parser, dict(os.environ))
    config = load_config(args.config) if args.config else GatewayConfig()
    host = args.host or config.server.host
    port = config.server.port if args.port is None else args.port
    tls, ca_file = _tls_options(args, parser, host)
    access_log = stderr_logger() if args.verbose else None
    return ServeOptions(config, host, port, tls, ca_file, access_log)


async def _serve(options: ServeOptions) -> None:
    import asyncio
    import contextlib
    import gc
    import signal
    import tempfile

    from ._server import serve

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    listening = False
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
                listening = True
                # Everything made at start-up lives as long as the process: keep the collector
                # from walking it again on every full collection.
                gc.freeze()
                _say(f"mockgateway listening on {running.url}")
                model = options.config.models[0]
                _say(
                    f"  generate: POST {running.url}/{model.id}/v1/{model.operation}\n"
                    f"  status:   GET  {running.url}/v2/requests/status/{{request_id}}\n"
                    f"  admin:    {running.url}/_mock/health"
                )
                if ca_file is not None:
                    _say(f"  CA:       {ca_file}")
                await stop.wait()
        except OSError as exc:
            if listening:
                raise
            raise _listen_error(options.host, options.port, exc) from None
    _say("mockgateway stopped")


def _cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    options = serve_options(args, args.serve_parser)
    asyncio.run(_serve(options))
    return 0


def _add_serve_command(commands: Any) -> None:
    p: argparse.ArgumentParser = commands.add_parser(
        "serve",
        help="run the gateway until interrupted",
        description="Run the gateway until SIGINT or SIGTERM. The first line printed is its URL. "
        f"{ENV_CONFIG}, {ENV_HOST} and {ENV_PORT} stand in for --config, --host and --port.",
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
        description="A local emulator of the OmniHuman v1.5 lipsync video API.",
    )
    parser.add_argument("--version", action="version", version=f"mockgateway {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_serve_command(commands)
    from .checker._cli import add_check_command

    add_check_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"mockgateway: configuration error: {exc}", file=sys.stderr)
        return 2
    except CannotListen as exc:
        print(f"mockgateway: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"mockgateway: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
