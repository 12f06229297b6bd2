"""The parts the request strategies share: the message types, URLs the gateway accepts and
bodies that are not JSON objects."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field as _field
from typing import Any, Literal

from hypothesis import strategies as st

from .._validation import INPUT_URL_PATTERN

DOC_IMAGE_URL = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png"
)
DOC_AUDIO_URL = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3"
)
INPUT_URL = re.compile(INPUT_URL_PATTERN)
MISSING = object()


@dataclass(frozen=True, slots=True)
class GenerateCall:
    """A valid generate request: its JSON body and extra headers (perhaps X-Webhook-URL)."""

    body: dict[str, Any]
    headers: dict[str, str] = _field(default_factory=dict)

    @property
    def raw(self) -> bytes:
        return json.dumps(self.body).encode()


@dataclass(frozen=True, slots=True)
class InvalidGenerate:
    """A generate request broken in one way: ``field`` is what a 400 must name, ``reason`` why."""

    raw: bytes
    field: str
    reason: str
    headers: dict[str, str] = _field(default_factory=dict)


# URLs ------------------------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,14}(\.[a-z][a-z0-9-]{0,10}){1,2}", fullmatch=True)
_segments = st.lists(st.from_regex(r"[A-Za-z0-9_.~-]{1,12}", fullmatch=True), max_size=3)


def http_url(extensions: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.builds(
        lambda scheme, host, parts, stem, ext: f"{scheme}://{host}/{'/'.join([*parts, stem])}{ext}",
        st.sampled_from(("http", "https")),
        hosts,
        _segments,
        st.from_regex(r"[a-z0-9_]{1,12}", fullmatch=True),
        st.sampled_from(extensions),
    )


def input_urls(kind: Literal["image", "audio"] = "image") -> st.SearchStrategy[str]:
    """Strings the contract accepts as image_url / audio_url: realistic and edge-case forms."""
    doc = DOC_IMAGE_URL if kind == "image" else DOC_AUDIO_URL
    extensions = (".png", ".jpg", ".webp") if kind == "image" else (".mp3", ".wav")
    data = "data:image/png;base64," if kind == "image" else "data:audio/wav;base64,"
    return st.one_of(
        st.just(doc),
        http_url(extensions),
        st.builds(lambda b: data + b, st.from_regex(r"[A-Za-z0-9+/]{0,40}={0,2}", fullmatch=True)),
        st.from_regex(INPUT_URL_PATTERN, fullmatch=True),
    )


not_strings = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
)


def broken_url_field(name: str) -> st.SearchStrategy[tuple[str, str, Any]]:
    """(field, reason, value or MISSING) for one URL field."""
    not_url = st.one_of(
        st.sampled_from(
            ("images/face.png", "ftp://host/a.png", "http://", "http:///path", "http://a b/c", "x")
        ),
        st.text(max_size=30).filter(lambda s: bool(s.strip()) and not INPUT_URL.search(s)),
    )
    return st.one_of(
        st.just((name, "missing", MISSING)),
        not_strings.map(lambda v: (name, "not a string", v)),
        st.sampled_from(("", " ", "\t")).map(lambda v: (name, "empty", v)),
        not_url.map(lambda v: (name, "not an accepted URL", v)),
    )


def broken_body(base: dict[str, Any], broken: tuple[str, str, Any]) -> InvalidGenerate:
    """``base`` with one field broken: ``(name, reason, value)``, the value :data:`MISSING` to
    leave the field out."""
    name, reason, value = broken
    body = dict(base)
    if value is MISSING:
        body.pop(name, None)
    else:
        body[name] = value
    return InvalidGenerate(json.dumps(body).encode(), name, reason)


def not_object_bodies() -> st.SearchStrategy[InvalidGenerate]:
    not_json = st.sampled_from(
        (b"{", b"image_url=https://a.b/c.png", b"{'image_url': 'x'}", b"\xff\xfe\xfa", b"[1,]")
    )
    not_object = st.one_of(
        st.lists(st.integers(), max_size=2), st.text(max_size=10), st.integers(), st.none()
    ).map(lambda v: json.dumps(v).encode())
    return st.one_of(
        st.sampled_from((b"", b"  \n")).map(lambda raw: InvalidGenerate(raw, "body", "empty")),
        not_json.map(lambda raw: InvalidGenerate(raw, "body", "not JSON")),
        not_object.map(lambda raw: InvalidGenerate(raw, "body", "not a JSON object")),
    )
