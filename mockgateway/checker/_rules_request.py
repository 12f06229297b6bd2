"""Rules about each request on its own: the key header, generate headers, the model a generate
request calls and its body, judged against that model's request schema."""

from __future__ import annotations

from collections.abc import Iterator

from .._journal import KEY_HEADER, JournalEntry
from ..models import OMNIHUMAN_MODEL_ID, builtin_models
from ._model import Finding, Rule, Severity, Source
from ._request_schema import refusal, schema_errors, undocumented_fields
from ._settings import CheckerSettings
from ._view import JournalView, as_json, has_key_header, header

_KEYED_ROUTES = frozenset({"generate", "status", "other"})


def _missing_key(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in view.requests:
        if e.route in _KEYED_ROUTES and not has_key_header(e):
            yield Finding(f"{e.method} {e.path} was sent without {KEY_HEADER}", (e,), e.key)


def _content_type(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in view.requests:
        if e.route != "generate" or e.method != "POST":
            continue
        value = header(e, "Content-Type")
        media = (value or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            shown = "no Content-Type" if value is None else f"Content-Type {value!r}"
            yield Finding(f"generate request sent with {shown}", (e,), e.key)


def _cache_control(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in view.requests:
        if e.route != "generate" or e.method != "POST":
            continue
        value = header(e, "Cache-Control")
        directives = {d.strip().lower() for d in (value or "").split(",")}
        if "no-cache" not in directives:
            shown = "no Cache-Control" if value is None else f"Cache-Control {value!r}"
            yield Finding(f"generate request sent with {shown}", (e,), e.key)


def _generates(view: JournalView) -> Iterator[JournalEntry]:
    for e in view.requests:
        if e.route == "generate" and e.method == "POST":
            yield e


def _model(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in _generates(view):
        found = view.target(e)
        if found.problem is not None:
            yield Finding(f"generate request to {e.path}: {found.problem}", (e,), e.key)


def _body_schema(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in _generates(view):
        spec = view.target(e).spec
        if spec is None:  # no model to judge it by: generate-model says so
            continue
        if e.body_truncated or (e.body is None and (e.body_size > 0 or e.status not in (202, 400))):
            # No whole copy kept, or the gateway answered (401, 429, a fault...) before reading it.
            continue
        body = as_json(e.body)
        if body is None:
            yield Finding(f"generate body for {spec.id} is empty or not JSON", (e,), e.key)
            continue
        problems = schema_errors(spec, body)
        refused = refusal(spec, body) if not problems and e.status != 202 else None
        if problems:
            yield Finding(
                f"generate body for {spec.id} breaks its request schema: " + "; ".join(problems),
                (e,),
                e.key,
            )
        elif refused is not None:  # the schema allows it, the gateway's own checks do not
            yield Finding(f"generate body for {spec.id} is refused: {refused}", (e,), e.key)


def _undocumented(view: JournalView, settings: CheckerSettings) -> Iterator[Finding]:
    for e in _generates(view):
        spec = view.target(e).spec
        extra = undocumented_fields(spec, as_json(e.body)) if spec is not None else []
        if spec is not None and extra:
            yield Finding(
                f"generate body for {spec.id} carries field(s) its request schema does not "
                "document: " + ", ".join(extra),
                (e,),
                e.key,
            )


_OMNIHUMAN = next(m for m in builtin_models() if m.id == OMNIHUMAN_MODEL_ID)

KEY_HEADER_RULE = Rule(
    id="key-header",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement=f"Every gateway request carries the {KEY_HEADER} header.",
    how_to_fix=f"Send '{KEY_HEADER}: <your key>' on generate and status requests alike.",
    check=_missing_key,
)
CONTENT_TYPE_RULE = Rule(
    id="generate-content-type",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement="Generate requests are JSON, sent with 'Content-Type: application/json'.",
    how_to_fix="Serialise the body as JSON and set 'Content-Type: application/json'.",
    check=_content_type,
)
CACHE_CONTROL_RULE = Rule(
    id="generate-cache-control",
    severity=Severity.INFO,
    source=Source.DOC,
    statement="Generate requests send the documented 'Cache-Control: no-cache' header.",
    how_to_fix="Add 'Cache-Control: no-cache' to the generate request, as the doc's examples do.",
    check=_cache_control,
)
MODEL_RULE = Rule(
    id="generate-model",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement="Generate requests call a model the gateway serves, at its path "
    "POST /{model_id}/v1/{operation}.",
    how_to_fix="Use a model id and operation the gateway declares (mockgateway serve prints "
    "each model's generate URL); any other path is a 404.",
    check=_model,
)
BODY_SCHEMA_RULE = Rule(
    id="generate-body-schema",
    severity=Severity.ERROR,
    source=Source.DOC,
    statement="Generate bodies are valid against the request schema of the model they call.",
    how_to_fix=(
        "Send a JSON object that meets the model's request schema, its required fields "
        "included (OmniHuman v1.5: image_url and audio_url as absolute URLs, resolution, if "
        "any, 720p, 1080p or 480p)."
    ),
    check=_body_schema,
)
UNDOCUMENTED_FIELD_RULE = Rule(
    id="generate-undocumented-field",
    severity=Severity.WARNING,
    source=Source.DOC,
    statement="Generate bodies carry only the fields their model's request schema documents "
    f"(OmniHuman v1.5: {', '.join(_OMNIHUMAN.properties)}).",
    how_to_fix="Drop fields the model's schema does not list; the gateway ignores them at best.",
    check=_undocumented,
)

REQUEST_RULES = (
    KEY_HEADER_RULE,
    CONTENT_TYPE_RULE,
    CACHE_CONTROL_RULE,
    MODEL_RULE,
    BODY_SCHEMA_RULE,
    UNDOCUMENTED_FIELD_RULE,
)
