"""Reading model declarations (``[[models]]`` tables) into :class:`ModelSpec` values.

The built-in models are declared the same way, in the package's ``schemas/models/*.toml``; a
user's configuration file adds models or changes declared ones (a row with a known ``id`` changes
only the keys it gives, so ``price_per_second = "0.2"`` reprices OmniHuman). Every error names the
model, the key and the file.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._bodyparse import toml_config
from .._errors import ApiError, ConfigError
from .._reader import Reader
from ..media import FORMATS, InputRef, MediaKind, PlanError, check_plan, parse_aspect
from ._request import parse_request
from ._schema import (
    MAX_SCHEMA_BYTES,
    SchemaProblem,
    check_schema,
    example_problem,
    numeric,
    read_schema_file,
    value_allowed,
)
from ._spec import (
    MAX_OUTPUT_SECONDS,
    MIN_OUTPUT_SECONDS,
    RESOLUTION_NAMES,
    FieldRule,
    LengthRule,
    ModelSpec,
    Per,
)

# a model id or an operation: one path segment
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
INPUT_KINDS = (MediaKind.IMAGE, MediaKind.AUDIO)
KEYS = (  # what a [[models]] table may say (docs/models.md has a row for each)
    "id",
    "operation",
    "title",
    "output",
    "format",
    "price",
    "per",
    "price_per_second",
    "request_schema",
    "inputs",
    "duration",
    "resolution",
    "aspect_ratio",
    "limits",
    "enabled",
)


class _Row(Reader):
    """One ``[[models]]`` table: its errors say which model they are about."""

    def __init__(self, table: Mapping[str, Any], prefix: str, source: str, model: str) -> None:
        super().__init__(table, prefix, source)
        self.model = model

    def error(self, key: str, message: str) -> ConfigError:
        shown = f"model {self.model!r}: " if self.model else ""
        return ConfigError(f"{shown}{message}", key=self._name(key), source=self.source)


def read_models(
    root: Reader,
    base_dir: Path | None,
    builtin: tuple[ModelSpec, ...],
    *,
    default_resolution: str,
) -> tuple[ModelSpec, ...]:
    """The built-in models as ``root``'s ``[[models]]`` rows change and extend them."""
    models: dict[str, ModelSpec] = {m.id: m for m in builtin}
    for row in _rows(root):
        known = models.get(_model_id(row))
        if known is not None:
            spec = read_model(row, base_dir, known, default_resolution)
        else:
            spec = read_model(row, base_dir, None, default_resolution, like=_like(row, builtin))
        models[spec.id] = spec
    return tuple(models.values())


def _like(row: _Row, builtin: tuple[ModelSpec, ...]) -> ModelSpec | None:
    """The declaration a new model without a contract of its own takes one from: a row giving
    only an id, an operation and a price (the form of earlier versions) is a model like the
    first built-in one (OmniHuman) under another name."""
    if "output" in row.table or "request_schema" in row.table or not builtin:
        return None
    return builtin[0]


def _rows(root: Reader) -> list[_Row]:
    rows = root.tables("models")
    return [_Row(r.table, r.prefix, r.source, _text_or_empty(r.table.get("id"))) for r in rows]


def _text_or_empty(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _model_id(row: _Row) -> str:
    model_id = row.get("id", str, "")
    if not model_id:
        raise row.error("id", "every model needs an id")
    if not NAME.fullmatch(model_id):
        raise row.error(
            "id",
            "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return model_id


def read_model(
    row: _Row,
    base_dir: Path | None,
    base: ModelSpec | None,
    default_resolution: str,
    *,
    like: ModelSpec | None = None,
) -> ModelSpec:
    """One declaration; ``base`` is the model of that id declared before (its keys are kept),
    ``like`` a model a new one takes what it does not say from (its id and operation aside)."""
    model_id = _model_id(row)
    unknown = [k for k in row.table if k not in KEYS]
    if unknown:
        raise row.error(unknown[0], f"unknown key; a model declares {', '.join(KEYS)}")
    operation = row.get("operation", str, base.operation if base else "")
    new = base is None
    if new and like is not None:
        base = like
    if not operation:
        raise row.error("operation", "a new model needs its operation name")
    if not NAME.fullmatch(operation):
        raise row.error("operation", "must be one path segment of letters, digits, '.', '_', '-'")
    output = _output(row, base)
    price, per = _price(row, None if new else base, like)
    schema = _schema(row, base_dir, base)
    spec = ModelSpec(
        id=model_id,
        operation=operation,
        output=output,
        format=_format(row, output, base),
        price=price,
        per=per,
        request_schema=schema,
        enabled=row.get("enabled", bool, base.enabled if base else True),
        title=row.get("title", str, base.title if base else ""),
        source=row.source if new or base is None or _redeclares(row) else base.source,
    )
    properties = spec.properties
    inputs = _inputs(row, properties, base)
    spec = replace(spec, inputs=inputs)
    spec = replace(spec, length=_length(row, spec, base))
    spec = replace(
        spec,
        resolution=_choice_rule(
            row, "resolution", spec, base, RESOLUTION_NAMES, default_resolution
        ),
        aspect_ratio=_choice_rule(row, "aspect_ratio", spec, base, None, None),
        max_seconds=_limits(row, spec, base),
    )
    row.finish()
    _check_fields(row, spec)
    _check_output(row, spec)
    problem = example_problem(spec.request_schema)
    if problem is not None:
        raise row.error("request_schema", problem)
    _check_examples_accepted(row, spec)
    return spec


def _check_fields(row: _Row, spec: ModelSpec) -> None:
    """What the gateway reads from a body agrees with what the schema publishes, so a body the
    served document calls valid is one the gateway accepts."""
    properties = spec.properties
    if spec.output is MediaKind.IMAGE and spec.per is Per.OUTPUT_SECOND:
        raise row.error("per", 'an image has no seconds of output; price it per = "request"')
    for name, _kind in spec.inputs:
        kind = properties[name].get("type") if isinstance(properties[name], Mapping) else None
        if kind is not None and kind != "string":
            raise row.error(
                "inputs", f"input field {name!r} holds a URL, but the schema gives it type {kind!r}"
            )
    length = spec.length
    if length is not None and length.field is not None:
        prop = properties[length.field]
        if length.default is None and length.field not in spec.required:
            raise row.error(
                "duration.default",
                f"{length.field!r} is optional in the schema: give the duration a default, or"
                " list the field in the schema's required",
            )
        if length.default is not None and not value_allowed(prop, length.default):
            raise row.error(
                "duration.default",
                f"{length.default:g} is not a value the schema allows for {length.field!r}",
            )
    for key, rule in (("resolution", spec.resolution), ("aspect_ratio", spec.aspect_ratio)):
        if rule is None or not rule.field:
            continue
        enum = (
            properties[rule.field].get("enum")
            if isinstance(properties[rule.field], Mapping)
            else None
        )
        if not isinstance(enum, list):
            raise row.error(
                f"{key}.field",
                f"the schema must list the values of {rule.field!r} (an enum), so clients and the"
                " served document know which the gateway renders",
            )


def _check_examples_accepted(row: _Row, spec: ModelSpec) -> None:
    """The schema's examples are bodies the gateway accepts (they are what the contract shows)."""
    examples = spec.request_schema.get("examples", [])
    for i, example in enumerate(examples if isinstance(examples, list) else []):
        try:
            parse_request(spec, json.dumps(example).encode(), max_bytes=MAX_SCHEMA_BYTES)
        except ApiError as exc:
            raise row.error(
                "request_schema",
                f"its example {i} is refused by the gateway: {exc.body.get('message')}",
            ) from None


def _check_output(row: _Row, spec: ModelSpec) -> None:
    """The media pipeline can make what the model declares (from its defaults)."""
    length = spec.length
    seconds = None
    if length is not None and length.audio is None:
        seconds = length.seconds or length.default or 1.0  # a required field: any length
    plan = spec.output_plan(
        resolution=spec.resolution.default if spec.resolution is not None else None,
        aspect_ratio=spec.aspect_ratio.default if spec.aspect_ratio is not None else None,
        seconds=seconds,
    )
    try:
        check_plan(plan, tuple(InputRef(field=f, kind=k, url="") for f, k in spec.inputs))
    except PlanError as exc:
        raise row.error("output", f"cannot be made: {exc}") from None


def _redeclares(row: _Row) -> bool:
    """Whether a row about a known model declares its contract anew (its file becomes the
    model's source) rather than changing a price or switching it off."""
    return "request_schema" in row.table or "output" in row.table


def _output(row: _Row, base: ModelSpec | None) -> MediaKind:
    if "output" not in row.table and base is not None:
        row.used.add("output")
        return base.output
    raw = row.get("output", str, "")
    if not raw:
        raise row.error("output", 'a new model needs its output kind: "video", "image" or "audio"')
    try:
        return MediaKind(raw)
    except ValueError:
        raise row.error(
            "output", f'unknown output kind {raw!r}; use "video", "image" or "audio"'
        ) from None


def _format(row: _Row, output: MediaKind, base: ModelSpec | None) -> str:
    formats = tuple(FORMATS[output])
    kept = base.format if base is not None and base.output is output else formats[0]
    raw = row.get("format", str, kept)
    if raw == "jpg":
        raw = "jpeg"
    if raw not in formats:
        shown = ", ".join(f'"{f}"' for f in formats)
        raise row.error("format", f"a {output.value} output is one of {shown}, got {raw!r}")
    return raw


def _price(row: _Row, base: ModelSpec | None, like: ModelSpec | None = None) -> tuple[Decimal, Per]:
    """The price and what it is for: a known model keeps what a row leaves out; a new one
    states its price (a row of the short form, like an earlier version's, takes ``like``'s),
    and ``per`` is ``request`` unless it says otherwise."""
    if "price_per_second" in row.table:  # the short form: a price per second of output
        if "price" in row.table or "per" in row.table:
            raise row.error("price_per_second", "give either price_per_second or price and per")
        return row.money("price_per_second", Decimal(0)), Per.OUTPUT_SECOND
    if "price" not in row.table and base is None:
        if like is not None and "per" not in row.table:
            return like.price, like.per
        raise row.error("price", 'a new model needs its price, such as price = "0.35"')
    price = row.money("price", base.price if base else Decimal(0))
    per = row.choice("per", Per, base.per if base else Per.REQUEST)
    return price, per


def _schema(row: _Row, base_dir: Path | None, base: ModelSpec | None) -> Mapping[str, Any]:
    if "request_schema" not in row.table:
        row.used.add("request_schema")
        if base is None:
            raise row.error(
                "request_schema",
                "a new model needs its request_schema: a JSON Schema file or an inline table",
            )
        return base.request_schema
    raw = row.get("request_schema", (str, dict), "")
    if isinstance(raw, str) and not raw:
        raise row.error("request_schema", "must name a JSON Schema file or be a table")
    try:
        return check_schema(read_schema_file(raw, base_dir) if isinstance(raw, str) else dict(raw))
    except SchemaProblem as exc:
        raise row.error("request_schema", str(exc)) from None


def _inputs(
    row: _Row, properties: Mapping[str, Any], base: ModelSpec | None
) -> tuple[tuple[str, MediaKind], ...]:
    if "inputs" not in row.table:
        row.used.add("inputs")
        found = base.inputs if base is not None else ()
    else:
        table: dict[str, Any] = row.get("inputs", dict, {})
        pairs: list[tuple[str, MediaKind]] = []
        for name, kind in table.items():
            if kind not in [k.value for k in INPUT_KINDS]:
                raise row.error(f"inputs.{name}", f'an input is "image" or "audio", got {kind!r}')
            pairs.append((name, MediaKind(kind)))
        found = tuple(pairs)
    for name, _kind in found:
        if name not in properties:
            raise row.error(
                "inputs", f"input field {name!r} is not defined in the request schema's properties"
            )
    return found


def _length(row: _Row, spec: ModelSpec, base: ModelSpec | None) -> LengthRule | None:
    if "duration" not in row.table:
        row.used.add("duration")
        if base is not None and base.output is spec.output:
            return base.length
        return None if spec.output is MediaKind.IMAGE else LengthRule(seconds=5.0)
    if spec.output is MediaKind.IMAGE:
        raise row.error("duration", "an image output has no duration; leave it out")
    table: dict[str, Any] | float = row.get("duration", (dict, int, float), {})
    if not isinstance(table, dict):
        return LengthRule(seconds=_seconds(row, "duration", table))
    given = [k for k in ("field", "audio", "seconds") if k in table]
    if len(given) != 1:
        raise row.error(
            "duration",
            'give exactly one of { field = "...", default = N }, { audio = "..." }'
            " or { seconds = N }",
        )
    unknown = sorted(set(table) - {"field", "audio", "seconds", "default"})
    if unknown or ("default" in table and given != ["field"]):
        bad = unknown[0] if unknown else "default"
        raise row.error(f"duration.{bad}", "unknown key here")
    if given == ["seconds"]:
        return LengthRule(seconds=_seconds(row, "duration.seconds", table["seconds"]))
    if given == ["audio"]:
        name = table["audio"]
        audio = [n for n, k in spec.inputs if k is MediaKind.AUDIO]
        if name not in audio:
            raise row.error(
                "duration.audio",
                f"{name!r} is not an audio input of this model (its audio inputs: "
                f"{', '.join(audio) or 'none'})",
            )
        return LengthRule(audio=name)
    name = table["field"]
    if not isinstance(name, str) or name not in spec.properties:
        raise row.error(
            "duration.field", f"{name!r} is not defined in the request schema's properties"
        )
    if not numeric(spec.properties[name]):
        shown = (
            spec.properties[name].get("type") if isinstance(spec.properties[name], dict) else None
        )
        raise row.error(
            "duration.field",
            f"the schema gives {name!r} type {shown!r}; a duration field must be an integer or"
            " a number of seconds",
        )
    default = table.get("default")
    return LengthRule(
        field=name,
        default=None if default is None else _seconds(row, "duration.default", default),
    )


def _seconds(row: _Row, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise row.error(key, f"expected a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or not MIN_OUTPUT_SECONDS <= seconds <= MAX_OUTPUT_SECONDS:
        raise row.error(
            key,
            f"must be from {MIN_OUTPUT_SECONDS:g} to {MAX_OUTPUT_SECONDS:g} seconds,"
            f" got {seconds:g}",
        )
    return seconds


def _choice_rule(
    row: _Row,
    key: str,
    spec: ModelSpec,
    base: ModelSpec | None,
    names: tuple[str, ...] | None,
    fallback: str | None,
) -> FieldRule | None:
    """``resolution`` or ``aspect_ratio``: ``{ field = "...", default = "..." }`` or one fixed
    value (a string). ``names``: the values the renderer knows (None: any ``W:H``)."""
    if key == "resolution" and spec.output is MediaKind.AUDIO and key in row.table:
        raise row.error(key, "an audio output has no resolution; leave it out")
    if key == "aspect_ratio" and spec.output is MediaKind.AUDIO and key in row.table:
        raise row.error(key, "an audio output has no aspect ratio; leave it out")
    if key not in row.table:
        row.used.add(key)
        if base is not None and base.output is spec.output:
            return getattr(base, key)  # type: ignore[no-any-return]
        if key == "resolution" and spec.output is not MediaKind.AUDIO:
            return FieldRule(field="", default=fallback or "720p")
        return None
    raw = row.get(key, (dict, str), "")
    if isinstance(raw, str):
        _known(row, key, raw, names)
        return FieldRule(field="", default=raw)
    unknown = sorted(set(raw) - {"field", "default"})
    if unknown:
        raise row.error(f"{key}.{unknown[0]}", "unknown key here")
    name = raw.get("field")
    if not isinstance(name, str) or name not in spec.properties:
        raise row.error(
            f"{key}.field", f"{name!r} is not defined in the request schema's properties"
        )
    schema = spec.properties[name]
    enum = schema.get("enum") if isinstance(schema, Mapping) else None
    for value in enum if isinstance(enum, list) else []:
        _known(row, f"{key}.field", value, names, what=f"the schema's enum for {name!r} has")
    default = raw.get("default")
    if default is None and fallback is not None:  # the gateway's default, where the enum has it
        default = fallback if not isinstance(enum, list) or fallback in enum else enum[0]
    if default is None:
        return FieldRule(field=name)
    _known(row, f"{key}.default", default, names)
    if isinstance(enum, list) and default not in enum:
        raise row.error(f"{key}.default", f"{default!r} is not in the schema's enum for {name!r}")
    return FieldRule(field=name, default=default)


def _known(
    row: _Row, key: str, value: Any, names: tuple[str, ...] | None, *, what: str = "got"
) -> None:
    if names is not None:
        if value not in names:
            shown = ", ".join(names)
            raise row.error(key, f"{what} {value!r}; the gateway renders {shown}")
    elif not isinstance(value, str):
        raise row.error(key, f'{what} {value!r}; an aspect ratio is "W:H", such as "16:9"')
    else:
        try:
            parse_aspect(value)
        except PlanError as exc:
            raise row.error(key, f"{what} {value!r}: {exc}") from None


def _limits(row: _Row, spec: ModelSpec, base: ModelSpec | None) -> tuple[tuple[str, float], ...]:
    if "limits" not in row.table:
        row.used.add("limits")
        if base is None or base.output is not spec.output or spec.length is None:
            return ()
        return base.max_seconds
    limits = Reader(row.get("limits", dict, {}), row._name("limits"), row.source)
    raw: dict[str, Any] | float = limits.get("max_seconds", (dict, int, float), {})
    limits.finish()
    if spec.length is None:
        raise row.error("limits.max_seconds", "a model without a duration has no length to limit")
    if not isinstance(raw, dict):
        return (("", _seconds(row, "limits.max_seconds", raw)),)
    table: list[tuple[str, float]] = []
    for resolution, value in raw.items():
        if resolution not in RESOLUTION_NAMES:
            raise row.error(
                f"limits.max_seconds.{resolution}",
                f"unknown resolution; the gateway renders {', '.join(RESOLUTION_NAMES)}",
            )
        table.append((resolution, _seconds(row, f"limits.max_seconds.{resolution}", value)))
    return tuple(table)


def read_declarations(path: Path, default_resolution: str) -> tuple[ModelSpec, ...]:
    """The models a declaration file (``[[models]]`` tables only) declares."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    root = Reader(toml_config(raw, str(path)), "", str(path))
    models = read_models(root, path.parent, (), default_resolution=default_resolution)
    root.finish()
    return models
