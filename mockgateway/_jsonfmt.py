"""JSON text the gateway writes: ``json.dumps`` with its defaults, its C encoder made once.

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

__all__ = ["dumps"]
