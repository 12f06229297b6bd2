"""TLS for the gateway: a certificate from a local CA made at start, or the operator's own.

The local CA (made with ``trustme``, the optional ``tls`` extra) lives only in memory: its
certificate is what a client trusts (``RunningGateway.ca_pem``, ``serve --ca-file``), and the
leaf it signs names the loopback addresses, ``localhost`` and the host the gateway binds.
"""

from __future__ import annotations

import contextlib
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from ._errors import TlsError

INSTALL_HINT = "pip install 'mockgateway[tls]'"


@dataclass(frozen=True, slots=True)
class ServerTls:
    """A server-side context and, for a local CA, the CA certificate clients should trust."""

    context: ssl.SSLContext
    ca_pem: bytes | None = None


def _names(host: str) -> list[str]:
    names = ["127.0.0.1", "::1", "localhost"]
    unspecified = False
    with contextlib.suppress(ValueError):
        unspecified = ipaddress.ip_address(host).is_unspecified
    if host and not unspecified and host not in names:
        names.append(host)
    return names


def local_ca(host: str) -> ServerTls:
    """A fresh CA and a leaf it signs for ``host`` and the loopback names."""
    try:
        import trustme  # the optional ``tls`` extra: only ``--tls`` needs it
    except ImportError:
        raise TlsError(f"TLS with a local CA needs trustme: {INSTALL_HINT}") from None
    ca = trustme.CA(organization_name="mockgateway local CA")
    leaf = ca.issue_cert(*_names(host))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    return ServerTls(context, ca.cert_pem.bytes())


def own_certificate(cert: str | Path, key: str | Path | None) -> ServerTls:
    """A context serving the operator's certificate chain (PEM) and private key."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(str(cert), None if key is None else str(key))
    except FileNotFoundError as exc:
        raise TlsError(f"cannot read {exc.filename}: {exc.strerror}") from None
    except ssl.SSLError as exc:
        shown = f"{cert} and {key}" if key is not None else str(cert)
        raise TlsError(
            f"{shown}: not a PEM certificate chain and its private key ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise TlsError(f"cannot load {cert}: {exc.strerror or exc}") from None
    return ServerTls(context)


def server_tls(tls: bool | ssl.SSLContext | ServerTls, host: str) -> ServerTls | None:
    """What :func:`mockgateway.serve`'s ``tls`` argument asks for: None for plain HTTP."""
    if isinstance(tls, ServerTls):
        return tls
    if isinstance(tls, ssl.SSLContext):
        return ServerTls(tls)
    return local_ca(host) if tls else None


def client_context(ca_pem: bytes) -> ssl.SSLContext:
    """A client context that trusts only ``ca_pem`` (for talking to a local-CA gateway)."""
    return ssl.create_default_context(cadata=ca_pem.decode("ascii"))
