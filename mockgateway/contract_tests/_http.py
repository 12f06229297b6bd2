"""A small synchronous HTTP client on the standard library, so the suite needs no event loop."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Seen:
    """One answer as received."""

    method: str
    url: str
    status: int
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.raw)
        except ValueError:
            return None

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)

    def describe(self) -> str:
        body = self.raw[:300].decode("utf-8", "replace")
        return f"{self.method} {self.url} -> {self.status} {body}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Seen:
    """Send one request; any HTTP status is an answer, only network failures raise."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as response:
            return Seen(method, url, response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        with error:
            return Seen(method, url, error.code, dict(error.headers), error.read())
