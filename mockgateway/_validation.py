"""The gateway's rules for URLs in a request: a media input field's URL and the X-Webhook-URL
header; a 400 naming the field when one is broken."""

from __future__ import annotations

import re
from typing import Any

from ._errors import ApiError, bad_request

RESOLUTIONS = ("720p", "1080p", "480p")  # OmniHuman's, in the doc's order
# The accepted URL forms, [mock]. These are the exact patterns of schemas/ (a test keeps them equal)
# and are applied with re.search, as JSON Schema validators do, so the gateway and its published
# contract agree on every string.
_URL_CHAR = r"[^\x00-\x20\x7f]"
INPUT_URL_PATTERN = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#]+(?:[/?#]" + _URL_CHAR + r"*)?"
    r"|[Dd][Aa][Tt][Aa]:" + _URL_CHAR + r"*|[Ff][Ii][Ll][Ee]:" + _URL_CHAR + r"*)$"
)
WEBHOOK_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9.-]+"
    r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#]" + _URL_CHAR + r"*)?$"
)
_INPUT_URL = re.compile(INPUT_URL_PATTERN)
_WEBHOOK_URL = re.compile(WEBHOOK_URL_PATTERN)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def url_field(body: dict[str, Any], name: str) -> str:
    if name not in body:
        raise bad_request(f"{name} is required")
    value = body[name]
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string URL, got {type_name(value)}")
    if not value.strip():
        raise bad_request(f"{name} must not be empty")
    if not _INPUT_URL.search(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise bad_request(f"{name} must be an absolute http(s) or data: URL, got {shown!r}")
    return value


def parse_webhook_url(value: str | None) -> str | None:
    """The optional X-Webhook-URL header: absent, or an absolute http(s) URL with a host name or
    IPv4 address and an optional port in 0-65535."""
    if value is None:
        return None
    if not _WEBHOOK_URL.search(value):
        raise bad_request(
            f"X-Webhook-URL must be an absolute http(s) URL with a host name, got {value!r}"
        )
    return value.strip()


__all__ = [
    "INPUT_URL_PATTERN",
    "RESOLUTIONS",
    "WEBHOOK_URL_PATTERN",
    "ApiError",
    "parse_webhook_url",
    "type_name",
    "url_field",
]
