"""Argument types of the command line: each raises ArgumentTypeError with the reason, which
argparse shows after the option's name."""

from __future__ import annotations

import argparse
import ipaddress
import re
from pathlib import Path
from urllib.parse import urlsplit

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


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


def _without_userinfo(text: str) -> str:
    """``text`` with a ``user:password@`` of its authority replaced by ``<user>@``."""
    scheme, sep, rest = text.partition("://")
    authority, slash, tail = rest.partition("/")
    if not sep or "@" not in authority:
        return text
    return f"{scheme}://<user>@{authority.rsplit('@', 1)[1]}{slash}{tail}"


def base_url(text: str) -> str:
    """An absolute http(s) URL with a host and no query or fragment, without its trailing ``/``.
    A user and password in it are never echoed in an error."""
    shown = _without_userinfo(text)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018  (a port out of range raises here)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {shown!r} ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL, got {shown!r}")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"must have no query or fragment, got {shown!r}")
    return text.rstrip("/")


def har_path(text: str) -> str:
    """A file path for a HAR recording (``.har``) whose directory exists."""
    if not text.lower().endswith(".har"):
        raise argparse.ArgumentTypeError(f"must end in .har, got {text!r}")
    return writable_path(text)
