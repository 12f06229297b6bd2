"""The OpenAPI document of a configured gateway: one generate operation per enabled model, the
universal status operation, and one media operation per output file name.

Built from ``openapi.json``, which stays the built-in gateway's document: its generate operation
is the template of every model's (the 202 and every documented error answer, the
``X-Webhook-URL`` header), its status and media operations, webhooks and security are shared. A
model whose request schema is the contract's own ``generate-request.schema.json`` refers to that
file; any other schema is placed under ``components/schemas``. Each generate operation carries
``x-mockgateway-model``: what the model makes and costs, and which body fields are media inputs,
so a client (the provider contract suite, for one) can build a request from the document alone.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._validation import INPUT_URL_PATTERN
from ._schemas import load_openapi, load_schema

if TYPE_CHECKING:
    from ..models import ModelSpec

MODEL_EXTENSION = "x-mockgateway-model"
GENERATE_ID = "generate"  # the built-in model's operation (tests and tools name it)
STATUS_ID = "getStatus"
MEDIA_ID = "getMedia"
SHARED_REQUEST = "generate-request.schema.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_NOUNS = {"video": "video", "image": "image", "audio": "audio"}
_URL_RULE = (
    "[mock] A media input the gateway fetches: an absolute http(s) URL with a host, a data: URL "
    "or a file: URL, with no spaces or control characters; anything else is a 400 naming it."
)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sanitised(name: str) -> str:
    """``name`` as a part of an operation id: letters, digits and ``_``."""
    return _UNSAFE.sub("_", name)


def _unique(wanted: str, taken: set[str]) -> str:
    chosen, n = wanted, 2
    while chosen in taken:
        chosen, n = f"{wanted}_{n}", n + 1
    taken.add(chosen)
    return chosen


def _find(document: Mapping[str, Any], operation_id: str) -> tuple[str, str, dict[str, Any]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return path, method, operation
    raise LookupError(f"the template has no operation {operation_id!r}")


def _rebased(schema: Any, pointer: str) -> Any:
    """``schema`` with its local JSON-pointer references (``#`` and ``#/...``) pointing under
    ``pointer`` instead. A reference to an anchor (``#name``) stays: an anchor names its schema
    wherever that sits in the document."""
    if isinstance(schema, dict):
        moved = {k: _rebased(v, pointer) for k, v in schema.items()}
        for key in ("$ref", "$dynamicRef"):
            ref = schema.get(key)
            if isinstance(ref, str) and (ref == "#" or ref.startswith("#/")):
                moved[key] = pointer + ref[1:]
        return moved
    if isinstance(schema, list):
        return [_rebased(v, pointer) for v in schema]
    return schema


class _Outputs:
    """Where and as what a model's output is served (a video's follow ``[lifecycle]``)."""

    def __init__(self, video_filename: str, video_media_type: str) -> None:
        self.video_filename = video_filename
        self.video_media_type = video_media_type

    def filename(self, model: ModelSpec) -> str:
        return model.served_filename(self.video_filename)

    def media_type(self, model: ModelSpec) -> str:
        return model.served_media_type(self.video_media_type)


def model_extension(model: ModelSpec, outputs: _Outputs) -> dict[str, Any]:
    """What a generate operation's ``x-mockgateway-model`` says about its model."""
    return {
        "id": model.id,
        "title": model.title,
        "output": model.output.value,
        "format": model.format,
        "media_type": outputs.media_type(model),
        "output_filename": outputs.filename(model),
        "price": format(model.price.normalize(), "f"),
        "per": model.per.value,
        "inputs": {name: kind.value for name, kind in model.inputs},
    }


def _price_text(model: ModelSpec) -> str:
    unit = "job" if model.per.value == "request" else f"second of output {model.output.value}"
    return f"Priced at {format(model.price.normalize(), 'f')} USD per {unit}"


def _generate_description(model: ModelSpec, outputs: _Outputs) -> str:
    inputs = ", ".join(f"{name} ({kind.value})" for name, kind in model.inputs)
    fetched = f" The gateway fetches the media inputs {inputs}." if inputs else ""
    return (
        f"[mock] A model declared in {Path(model.source).name}. Send Content-Type: "
        "application/json, Cache-Control: no-cache and the subscription key. The answer is 202 "
        "with the request_id and its polling_url; the job then moves QUEUED -> PROCESSING -> "
        f"COMPLETED (or FAILED, or ERROR) and makes one {outputs.media_type(model)} file, "
        f"{outputs.filename(model)}.{fetched} {_price_text(model)}."
    )


def openapi_for(
    models: Iterable[ModelSpec],
    *,
    video_filename: str = "output.mp4",
    video_media_type: str = "video/mp4",
    template: Mapping[str, Any] | None = None,
    directory: Path | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a gateway serving ``models`` (the disabled ones left out);
    ``video_filename`` and ``video_media_type`` are ``[lifecycle] output_filename`` and
    ``media_type``. With the built-in model alone and the defaults, it is ``openapi.json``."""
    base = copy.deepcopy(dict(template) if template is not None else load_openapi(directory))
    shared = _canonical(load_schema(SHARED_REQUEST, directory))
    outputs = _Outputs(video_filename, video_media_type)
    generate_path, _method, generate = _find(base, GENERATE_ID)
    status_path, _method, status = _find(base, STATUS_ID)
    media_path, _method, media = _find(base, MEDIA_ID)
    builtin_id = generate_path.split("/")[1]
    enabled = [m for m in models if m.enabled]
    taken = {STATUS_ID}
    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for model in enabled:
        operation = copy.deepcopy(generate)
        if model.id == builtin_id:
            operation["operationId"] = _unique(GENERATE_ID, taken)
        else:
            operation["operationId"] = _unique(f"generate_{sanitised(model.id)}", taken)
            operation["summary"] = f"Queue a job of {model.title or model.id}"
            operation["description"] = _generate_description(model, outputs)
            if model.per.value == "request":
                answer = operation["responses"]["402"]
                answer["description"] = answer["description"].replace(
                    "at least one billable second of balance", "the price of one job"
                )
            operation["requestBody"] = _request_body(model)
        media_type = operation["requestBody"]["content"]["application/json"]
        if model.schema_text == shared:
            media_type["schema"] = {"$ref": SHARED_REQUEST}
        else:
            name = _unique(f"{sanitised(model.id)}_request", set(schemas))
            pointer = f"#/components/schemas/{name}"
            inline = _with_url_rule(
                {k: v for k, v in model.request_schema.items() if k not in ("$id", "$schema")},
                model,
            )
            schemas[name] = _rebased(inline, pointer)
            media_type["schema"] = {"$ref": pointer}
        operation[MODEL_EXTENSION] = model_extension(model, outputs)
        paths[f"/{model.id}/v1/{model.operation}"] = {"post": operation}
    media_paths = _media_operations(enabled, outputs, media_path, media, taken)
    paths[status_path] = {"get": _status_operation(status, media_paths)}
    paths.update({path: {"get": operation} for path, operation in media_paths.items()})
    base["paths"] = paths
    if [m.id for m in enabled] != [builtin_id]:
        listed = ", ".join(m.id for m in enabled) or "none"
        base["info"]["description"] += (
            f" [mock] Built from this gateway's configuration; the models it serves: {listed}."
        )
    if schemas:
        base.setdefault("components", {})["schemas"] = schemas
    return base


def _with_url_rule(schema: dict[str, Any], model: ModelSpec) -> dict[str, Any]:
    """``schema`` stating the gateway's URL rule on each media input that has no pattern of its
    own, so that a string meets the schema when the gateway takes it."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return schema
    ruled = dict(properties)
    for name, _kind in model.inputs:
        prop = ruled.get(name)
        if isinstance(prop, Mapping) and "pattern" not in prop:
            described = f"{prop.get('description', '')} {_URL_RULE}".strip()
            ruled[name] = {**prop, "pattern": INPUT_URL_PATTERN, "description": described}
    return {**schema, "properties": ruled}


def _request_body(model: ModelSpec) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {}}
    examples = model.request_schema.get("examples")
    if isinstance(examples, list) and examples:
        content["example"] = examples[0]
    return {
        "required": True,
        "description": "[mock] The job's inputs, as the model's request schema states them.",
        "content": {"application/json": content},
    }


def _media_operations(
    models: list[ModelSpec],
    outputs: _Outputs,
    template_path: str,
    template: Mapping[str, Any],
    taken: set[str],
) -> dict[str, dict[str, Any]]:
    """One download operation per output file name, in the order the models name them."""
    groups: dict[str, list[ModelSpec]] = {}
    for model in models:
        groups.setdefault(outputs.filename(model), []).append(model)
    template_file = template_path.rsplit("/", 1)[-1]
    template_types = list(template["responses"]["200"]["content"])
    found: dict[str, dict[str, Any]] = {}
    for filename, group in groups.items():
        media_types = list(dict.fromkeys(outputs.media_type(m) for m in group))
        kinds = list(dict.fromkeys(m.output.value for m in group))
        operation = copy.deepcopy(dict(template))
        video = "video" in kinds
        wanted = MEDIA_ID if video else f"{MEDIA_ID}_{sanitised(filename)}"
        operation["operationId"] = _unique(wanted, taken)
        if filename != template_file or media_types != template_types:
            _adapt_media(operation, filename, template_file, media_types, kinds)
        found[f"/v1/{{request_id}}/{filename}"] = operation
    return found


def _adapt_media(
    operation: dict[str, Any],
    filename: str,
    template_file: str,
    media_types: list[str],
    kinds: list[str],
) -> None:
    noun = " or ".join(_NOUNS[k] for k in kinds)
    operation["summary"] = f"Download a completed job's {noun}"
    operation["description"] = operation["description"].replace(template_file, filename)
    content = {t: {"schema": {"type": "string", "contentMediaType": t}} for t in media_types}
    answers = operation["responses"]
    answers["200"]["description"] = f"The rendered {noun}."
    answers["200"]["content"] = content
    answers["206"]["description"] = f"[mock] The requested byte range of the {noun}."
    answers["206"]["content"] = copy.deepcopy(content)


def _status_operation(
    template: Mapping[str, Any], media: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """The status operation, its 200 linking to each media operation."""
    operation = copy.deepcopy(dict(template))
    answer = operation["responses"]["200"]
    link = answer.get("links", {}).get("GetMedia")
    if link is None:
        return operation
    links: dict[str, Any] = {}
    for path, media_operation in media.items():
        operation_id = media_operation["operationId"]
        name = "GetMedia" if operation_id == MEDIA_ID else f"GetMedia_{operation_id[9:]}"
        made = copy.deepcopy(link)
        made["operationId"] = operation_id
        made["description"] = re.sub(r"/v1/\{request_id\}/\S+? ", f"{path} ", link["description"])
        links[name] = made
    if links:
        answer["links"] = links
    else:
        answer.pop("links", None)
    return operation


__all__ = ["GENERATE_ID", "MEDIA_ID", "MODEL_EXTENSION", "STATUS_ID", "openapi_for", "sanitised"]
