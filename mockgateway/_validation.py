"""Parsing a generate request: body and headers in; a typed request, or a 400 naming the field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ._bodyparse import json_body
from ._errors import ApiError, bad_request

RESOLUTIONS = ("720p", "1080p", "480p")
DOCUMENTED_FIELDS = frozenset({"image_url", "audio_url", "resolution"})
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


@dataclass(frozen=True, slots=True, kw_only=True)
class GenerateRequest:
    image_url: str
    audio_url: str
    resolution: str
    extra_fields: tuple[str, ...] = ()


def _type_name(value: Any) -> str:
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


def _url_field(body: dict[str, Any], name: str) -> str:
    if name not in body:
        raise bad_request(f"{name} is required")
    value = body[name]
    if not isinstance(value, str):
        raise bad_request(f"{name} must be a string URL, got {_type_name(value)}")
    if not value.strip():
        raise bad_request(f"{name} must not be empty")
    if not _INPUT_URL.search(value):
        shown = value if len(value) <= 80 else value[:77] + "..."
        raise bad_request(f"{name} must be an absolute http(s) or data: URL, got {shown!r}")
    return value


def parse_generate(raw: bytes, *, max_bytes: int, default_resolution: str) -> GenerateRequest:
    """Parse the JSON body of a generate request; raise :class:`ApiError` 400 naming the problem."""
    if len(raw) > max_bytes:
        raise bad_request(f"request body is {len(raw)} bytes, over the limit of {max_bytes} bytes")
    if not raw.strip():
        raise bad_request(
            "request body is empty; expected a JSON object with image_url and audio_url"
        )
    body = json_body(raw, max_bytes=max_bytes)
    if not isinstance(body, dict):
        raise bad_request(f"request body must be a JSON object, got {_type_name(body)}")
    image_url = _url_field(body, "image_url")
    audio_url = _url_field(body, "audio_url")
    resolution = body.get("resolution", default_resolution)
    if "resolution" in body and not isinstance(resolution, str):
        raise bad_request(
            f"resolution must be a string, one of 720p, 1080p, 480p; got {_type_name(resolution)}"
        )
    if resolution not in RESOLUTIONS:
        raise bad_request(f'resolution must be one of "720p", "1080p", "480p"; got {resolution!r}')
    extra = tuple(sorted(k for k in body if k not in DOCUMENTED_FIELDS))
    return GenerateRequest(
        image_url=image_url, audio_url=audio_url, resolution=resolution, extra_fields=extra
    )


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
    "GenerateRequest",
    "parse_generate",
    "parse_webhook_url",
]
