"""The one bounded reader of JSON and TOML text that came from outside: request bodies and saved
journals.

``json.loads`` and ``tomllib.loads`` recurse once per nesting level and turn any run of digits into
an ``int``, so a small hostile body can raise ``RecursionError`` or Python's int-string limit, and
deeply dotted TOML keys take memory quadratic in their length. Here the text is checked first,
without recursion, against :class:`Bounds` (size, nesting depth, length of a number), and only
then parsed. Over a bound, or not parseable, is a :class:`BodyError` naming what is wrong;
:func:`json_body` and :func:`toml_body` raise the gateway's 400 instead, for the web edge.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from itertools import accumulate
from operator import is_
from typing import Any

from ._errors import ConfigError, bad_request

MAX_DEPTH = 64  # arrays and objects inside one another; real bodies use three or four
MAX_NUMBER_CHARS = 100  # digits (with sign, point and exponent) of one number


class BodyError(ValueError):
    """Text over a bound or not valid JSON/TOML; the message names what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bounds:
    max_bytes: int | None = 1024 * 1024  # None: the caller bounded the size already
    max_depth: int = MAX_DEPTH
    max_number_chars: int = MAX_NUMBER_CHARS


DEFAULT_BOUNDS = Bounds()

# One JSON string, escapes included (unrolled, so it runs in linear time).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = frozenset(b"[]{}")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in _BRACKETS)
_STEP = [0] * 256
_STEP[ord("[")] = _STEP[ord("{")] = 1
_STEP[ord("]")] = _STEP[ord("}")] = -1
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


@dataclass(frozen=True, slots=True)
class _Refused:
    """Stands where the JSON parser met a number it must not read; found afterwards by its path."""

    reason: str


def _path(parts: list[str | int]) -> str:
    """``faults[0].seconds``: where a value sits, as a person names a key."""
    shown = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return shown or "the top level"


def _first(value: Any, wanted: Callable[[Any], bool]) -> tuple[str, Any]:
    """The path and value of the first item ``wanted`` picks, walked without recursion."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, parts = stack.pop()
        if wanted(item):
            return _path(parts), item
        if isinstance(item, dict):
            stack.extend((v, [*parts, k]) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((v, [*parts, i]) for i, v in reversed(list(enumerate(item))))
    raise LookupError("nothing picked")  # the callers know something is there


def _max_depth(structure: bytes) -> int:
    """The deepest nesting of brackets in text whose strings are already removed."""
    brackets = structure.translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _check_size(raw: bytes, bounds: Bounds, what: str) -> None:
    if bounds.max_bytes is not None and len(raw) > bounds.max_bytes:
        raise BodyError(f"{what} is {len(raw)} bytes, over the limit of {bounds.max_bytes} bytes")


def _check_depth(text: bytes, strings: re.Pattern[bytes], bounds: Bounds, what: str) -> None:
    limit = bounds.max_depth
    # Cheap first: fewer opening brackets than the limit cannot nest deeper than it.
    if text.count(b"[") + text.count(b"{") <= limit:
        return
    if _max_depth(strings.sub(b'""', text)) > limit:
        raise BodyError(f"{what} nests arrays or objects deeper than {limit} levels")


class ExactFloat(float):
    """A JSON or TOML number with a fraction or exponent that remembers its text: it computes as
    the float, but ``str`` and ``repr`` give what was written, so money read from it
    (``Decimal(str(x))``) is exact, never the float's rounding of it (``12345678901.1234567``
    keeps its seven places, and is refused). ``json.dumps`` writes it as the float."""

    __slots__ = ("text",)

    text: str

    def __new__(cls, text: str) -> ExactFloat:
        value = super().__new__(cls, text)
        value.text = text
        return value

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def _text(raw: bytes, bounds: Bounds, what: str, kind: str) -> str:
    """``raw`` as UTF-8 text within the size bound, or a :class:`BodyError` naming why not."""
    _check_size(raw, bounds, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BodyError(f"{what} is not UTF-8 text (byte {exc.start}); expected {kind}") from None


def parse_json(raw: bytes | str, bounds: Bounds = DEFAULT_BOUNDS, *, what: str = "body") -> Any:
    """JSON text (UTF-8) as data, within ``bounds``; NaN, Infinity, numbers out of a float's range
    and lone surrogate escapes are refused, so what is read can always be written back as JSON.
    A number with a fraction or exponent is an :class:`ExactFloat`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    text = _text(data, bounds, what, "JSON")
    _check_depth(data, _JSON_STRING, bounds, what)
    longest = bounds.max_number_chars
    refused: list[_Refused] = []

    def refuse(reason: str) -> _Refused:
        mark = _Refused(reason)
        refused.append(mark)
        return mark

    def parse_int(token: str) -> int | _Refused:
        if len(token) > longest:
            return refuse(f"a number of {len(token)} characters; at most {longest} are accepted")
        return int(token)

    def parse_float(token: str) -> float | _Refused:
        if len(token) > longest:
            return refuse(f"a number of {len(token)} characters; at most {longest} are accepted")
        value = float(token)
        if not math.isfinite(value):
            return refuse(f"a number out of range ({token})")
        return ExactFloat(token)

    def parse_constant(token: str) -> _Refused:
        return refuse(f"{token}, which is not a JSON number")

    try:
        value = json.loads(
            text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant
        )
    except json.JSONDecodeError as exc:
        raise BodyError(
            f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    if refused:  # found only now, so the message can say where
        path, mark = _first(value, lambda item: isinstance(item, _Refused))
        raise BodyError(f"{what}: {path} is {mark.reason}")
    if _SURROGATE_ESCAPE.search(data):
        try:  # json pairs surrogate escapes into one character; a lone one stays unencodable
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            shown = ascii(exc.object[exc.start : exc.end])
            raise BodyError(
                f"{what} has a lone surrogate {shown} in a string; text must be valid Unicode"
            ) from None
    return value


# TOML strings (all four kinds) and comments: what may hold brackets and dots that are not syntax.
_TOML_NOISE = re.compile(
    rb'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*'
)
# A dotted key (a.b.c): a float has one dot, so a chain this long is a key.
_TOML_KEY_CHAIN = rb'(?:[\w-]+|"")(?:[ \t]*\.[ \t]*(?:[\w-]+|"")){%d,}'


def _check_toml_values(value: Any, bounds: Bounds, what: str) -> None:
    """Walk the parsed data without recursion: its depth (a table header and a dotted key add
    levels that no bracket shows) and its numbers (hex, octal and binary integers escape the digit
    scan; ``inf`` and ``nan`` are TOML but have no JSON form)."""
    limit, longest = bounds.max_depth, bounds.max_number_chars
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise BodyError(f"{what} nests tables or arrays deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            path, _ = _first(value, partial(is_, item))
            raise BodyError(f"{what}: {path} is a number out of range ({item})")
        elif isinstance(item, int) and item.bit_length() > longest * 10 // 3:
            path, _ = _first(value, partial(is_, item))
            raise BodyError(f"{what}: {path} is an integer of more than {longest} digits")


def parse_toml(
    raw: bytes, bounds: Bounds = DEFAULT_BOUNDS, *, what: str = "body"
) -> dict[str, Any]:
    """TOML text (UTF-8) as a table, within ``bounds``; floats are :class:`ExactFloat`."""
    text = _text(raw, bounds, what, "TOML")
    _check_depth(raw, _TOML_NOISE, bounds, what)
    chain = re.compile(_TOML_KEY_CHAIN % bounds.max_depth)  # re caches the compiled patterns
    digits = re.compile(rb"[0-9][0-9_]{%d,}" % bounds.max_number_chars)
    if raw.count(b".") >= bounds.max_depth or digits.search(raw):
        structure = _TOML_NOISE.sub(b'""', raw)
        if chain.search(structure):
            raise BodyError(f"{what} has a dotted key of more than {bounds.max_depth} parts")
        if digits.search(structure):
            raise BodyError(f"{what} has a number of more than {bounds.max_number_chars} digits")
    try:
        data = tomllib.loads(text, parse_float=ExactFloat)
    except tomllib.TOMLDecodeError as exc:
        raise BodyError(f"{what} is not valid TOML: {exc}") from None
    _check_toml_values(data, bounds, what)
    return data


def json_body(raw: bytes, *, max_bytes: int, what: str = "request body") -> Any:
    """A request's JSON body, or the gateway's 400 naming what is wrong with it."""
    try:
        return parse_json(raw, Bounds(max_bytes=max_bytes), what=what)
    except BodyError as exc:
        raise bad_request(str(exc)) from None


def toml_body(raw: bytes, *, max_bytes: int, what: str = "request body") -> dict[str, Any]:
    """A request's TOML body, or the gateway's 400 naming what is wrong with it."""
    try:
        return parse_toml(raw, Bounds(max_bytes=max_bytes), what=what)
    except BodyError as exc:
        raise bad_request(str(exc)) from None


_UNSIZED = Bounds(max_bytes=None)
_FILE = "the file"


def toml_config(raw: bytes, source: str) -> dict[str, Any]:
    """A configuration file's TOML (the operator's, any size), or a :class:`ConfigError` naming
    ``source`` and what is wrong: a file nested 100,000 deep or holding a 5,000-digit number is a
    configuration error like any other, not a RecursionError."""
    try:
        return parse_toml(raw, _UNSIZED, what=_FILE)
    except BodyError as exc:
        message = str(exc)
        if message.startswith(f"{_FILE}: "):  # "the file: delays.queue is a number ...": a key
            key, _, reason = message.removeprefix(f"{_FILE}: ").partition(" is ")
            raise ConfigError(f"is {reason}", key=key, source=source) from None
        raise ConfigError(message.removeprefix(f"{_FILE} is "), source=source) from None


def json_or_text(raw: bytes) -> tuple[Any, bool]:
    """What the journal keeps of a body (already cut to its cap): its JSON data, or its text when
    it is not JSON within the bounds; the flag says which. Never raises."""
    try:
        return parse_json(raw, _UNSIZED), True
    except BodyError:
        return raw.decode("utf-8", "replace"), False


__all__ = [
    "DEFAULT_BOUNDS",
    "MAX_DEPTH",
    "MAX_NUMBER_CHARS",
    "BodyError",
    "Bounds",
    "ExactFloat",
    "json_body",
    "json_or_text",
    "parse_json",
    "parse_toml",
    "toml_body",
    "toml_config",
]
