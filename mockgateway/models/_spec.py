"""A model of the gateway as data: what its generate request takes, what it makes, what it costs.

Pure values, read once from a declaration (:mod:`._read`). The lifecycle asks a spec what a job
costs and what output to plan; the request parser asks it which fields are media inputs, where the
output's length and resolution come from, and which JSON Schema the body must meet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .._billing import billed_seconds, cost_of
from ..media import SHORT_SIDES, InputRef, MediaKind, OutputPlan, content_type, output_filename

RESOLUTION_NAMES = tuple(SHORT_SIDES)  # what the renderer makes (the short side)
MAX_OUTPUT_SECONDS = 600.0  # the longest output any model may plan ([mock]: renders stay cheap)
MIN_OUTPUT_SECONDS = 0.04  # the shortest: one video frame


class Per(StrEnum):
    """What a model's price is for."""

    REQUEST = "request"  # once, when a job completes
    OUTPUT_SECOND = "output_second"  # every started second of output


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldRule:
    """A value read from a body field, or its default when the body leaves it out."""

    field: str
    default: Any = None  # None: no default (absent stays absent)


@dataclass(frozen=True, slots=True, kw_only=True)
class LengthRule:
    """Where the output's length comes from: exactly one of a body field (with a default), an
    audio input's decoded duration, or a fixed number of seconds."""

    field: str | None = None
    default: float | None = None
    audio: str | None = None
    seconds: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelSpec:
    id: str  # served at POST /{id}/v1/{operation}
    operation: str
    output: MediaKind
    format: str  # one of media.FORMATS[output]
    price: Decimal
    per: Per
    # the JSON Schema (2020-12) of the body; compared and hashed through its canonical text
    request_schema: Mapping[str, Any] = field(repr=False, compare=False)
    inputs: tuple[tuple[str, MediaKind], ...] = ()  # body fields fetched as media, in order
    length: LengthRule | None = None  # None: the output has no length (an image)
    resolution: FieldRule | None = None
    aspect_ratio: FieldRule | None = None
    max_seconds: tuple[tuple[str, float], ...] = ()  # the longest output per resolution ("": any)
    enabled: bool = True
    title: str = ""
    source: str = "<built-in>"  # the file that declared it
    schema_text: str = field(init=False, repr=False)  # request_schema as canonical JSON

    def __post_init__(self) -> None:
        text = json.dumps(self.request_schema, sort_keys=True, separators=(",", ":"))
        object.__setattr__(self, "schema_text", text)

    @property
    def properties(self) -> Mapping[str, Any]:
        """The body fields the schema documents (anything else is undocumented)."""
        props = self.request_schema.get("properties", {})
        return props if isinstance(props, Mapping) else {}

    @property
    def required(self) -> tuple[str, ...]:
        required = self.request_schema.get("required", [])
        return (
            tuple(r for r in required if isinstance(r, str)) if isinstance(required, list) else ()
        )

    @property
    def media_type(self) -> str:
        return content_type(self._bare_plan)

    @property
    def output_filename(self) -> str:
        return output_filename(self._bare_plan)

    def served_filename(self, video_filename: str) -> str:
        """The file name its outputs are served under: a video's is ``video_filename`` (the
        ``[lifecycle] output_filename``), any other kind's its format's."""
        return video_filename if self.output is MediaKind.VIDEO else self.output_filename

    def served_media_type(self, video_media_type: str) -> str:
        """The media type its outputs are served as (a video's is ``[lifecycle] media_type``)."""
        return video_media_type if self.output is MediaKind.VIDEO else self.media_type

    @property
    def _bare_plan(self) -> OutputPlan:
        """An output plan that only names the output's kind and format."""
        return OutputPlan(kind=self.output, format=self.format, resolution=None)

    @property
    def price_per_second(self) -> Decimal | None:
        """The price of one billed second, for a model priced per output second."""
        return self.price if self.per is Per.OUTPUT_SECOND else None

    @property
    def least_cost(self) -> Decimal:
        """What a wallet must cover to start a job: one billed second, or the request's price."""
        return self.price

    def cost(self, seconds: float | None) -> Decimal:
        """What a job costs once its output's length is known (None: it has no length)."""
        if self.per is Per.REQUEST:
            return self.price
        return cost_of(seconds if seconds is not None else 0.0, self.price)

    def billed_seconds(self, seconds: float | None) -> int:
        """The seconds a job is billed for: none when the price is per request."""
        if self.per is Per.REQUEST or seconds is None:
            return 0
        return billed_seconds(seconds)

    def longest(self, resolution: str | None) -> float:
        """The longest output a job at ``resolution`` may have: the model's limit, the length
        its schema allows, or the gateway's own bound."""
        limits = dict(self.max_seconds)
        limit = limits.get(resolution or "", limits.get(""))
        if limit is None and limits and resolution is None:
            limit = max(limits.values())
        if limit is None and self.length is not None and self.length.seconds is not None:
            limit = self.length.seconds
        if limit is None and self.length is not None and self.length.field is not None:
            limit = _schema_maximum(self.properties.get(self.length.field))
        return min(limit, MAX_OUTPUT_SECONDS) if limit is not None else MAX_OUTPUT_SECONDS

    def resolution_in(self, body: Mapping[str, Any]) -> str | None:
        """The resolution a body asks for by this model's rule: its field's value when it names
        one the gateway renders, else the rule's default (None: the model has none)."""
        rule = self.resolution
        if rule is None:
            return None
        value = body.get(rule.field) if rule.field else None
        return value if isinstance(value, str) and value in RESOLUTION_NAMES else rule.default

    def input_refs(self, given: tuple[tuple[str, str], ...]) -> tuple[InputRef, ...]:
        """A job's media inputs (``(field, URL)`` pairs from its request) as the pipeline takes
        them, in declared order."""
        kinds = dict(self.inputs)
        return tuple(InputRef(field=f, kind=kinds[f], url=url) for f, url in given if f in kinds)

    def output_plan(
        self, *, resolution: str | None, aspect_ratio: str | None, seconds: float | None
    ) -> OutputPlan:
        """What a job's output will be, from what its request chose."""
        return OutputPlan(
            kind=self.output,
            format=self.format,
            resolution=None if self.output is MediaKind.AUDIO else resolution,
            aspect_ratio=aspect_ratio,
            seconds=seconds,
            length_from=self.length.audio if self.length is not None else None,
            max_seconds=self.max_seconds,
            length_field=self.length.field if self.length is not None else None,
        )

    def max_cost(self, resolution: str | None) -> Decimal:
        """The most one job at ``resolution`` can cost (a spend guard's worst case)."""
        if self.per is Per.REQUEST:
            return self.price
        return self.price * billed_seconds(self.longest(resolution))


def _schema_maximum(schema: Any) -> float | None:
    """The largest number a property's schema admits, when it says (an enum or a maximum)."""
    if not isinstance(schema, Mapping):
        return None
    enum = schema.get("enum")
    if isinstance(enum, list):
        numbers = [v for v in enum if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return float(max(numbers)) if numbers else None
    for key in ("maximum", "exclusiveMaximum"):
        value = schema.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None
