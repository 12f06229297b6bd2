"""JSON text the gateway writes: ``json.dumps`` with its defaults, its C encoder made once, and
text a strict JSON reader takes (no lone surrogates).

``json.dumps`` builds a new encoder on every call; answers and status bodies are written on every
request, so this module makes one and reuses it (no circular-reference check: what is written are
trees the gateway builds).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def _not_serializable(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _encoder() -> Callable[[Any], str]:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return json.dumps
    # markers, default, string encoder, indent, separators, sort_keys, skipkeys, allow_nan
    encode = make(
        None,
        _not_serializable,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


dumps = _encoder()

# One string as ``dumps`` writes it (quoted, non-ASCII and control characters escaped): for
# bodies of a fixed shape written from a template, byte for byte what ``dumps`` gives.
quoted: Callable[[str], str] = json.encoder.encode_basestring_ascii


def valid_unicode(value: Any) -> Any:
    """``value`` with every lone surrogate in its strings replaced by U+FFFD.

    A header byte that is not UTF-8 reaches Python as a lone surrogate (aiohttp decodes headers
    with ``surrogateescape``), and ``json.dumps`` writes it as an escape such as ``\\udcff``,
    which strict JSON readers, the bounded reader of a saved journal among them, refuse. Data
    without one comes back as it is."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            try:
                raw = value.encode("utf-8", "surrogateescape")  # the bytes the client sent
            except UnicodeEncodeError:
                raw = value.encode("utf-8", "surrogatepass")
            return raw.decode("utf-8", "replace")
        return value
    if isinstance(value, dict):
        return {valid_unicode(k): valid_unicode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(valid_unicode(v) for v in value)
    return value


def wire_json(body: Any) -> tuple[Any, bytes]:
    """``body`` as the gateway answers it, and its bytes: a lone surrogate in it (a header's
    bytes echoed back) becomes U+FFFD first."""
    encoded = dumps(body).encode()
    if b"\\ud" in encoded:
        clean = valid_unicode(body)
        if clean != body:
            return clean, dumps(clean).encode()
    return body, encoded


def template_json(text: str, body: Callable[[], Any]) -> bytes:
    """Bytes of a body written from a template (``text``, its strings written with
    :func:`quoted`), or of ``body()`` through :func:`wire_json` when a string in it holds a lone
    surrogate (which only that path cleans)."""
    if "\\ud" in text:
        return wire_json(body())[1]
    return text.encode()


__all__ = ["dumps", "quoted", "template_json", "valid_unicode", "wire_json"]
