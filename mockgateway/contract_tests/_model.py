"""Which model the suite checks: its generate path and a request body, read from an OpenAPI
document (the built-in one for OmniHuman, else the gateway's served ``/_mock/openapi.json`` or
the document given).

The body is the first example the document gives for the model's request, its media inputs (the
fields the operation's ``x-mockgateway-model`` lists; without it, ``image_url`` and
``audio_url``) pointed at the URLs given, since the target must be able to fetch them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockgateway.contract import SCHEMA_NAMES, load_openapi, load_schema

from ._http import request

MODEL_EXTENSION = "x-mockgateway-model"


class ModelNotDescribed(LookupError):
    """The document does not describe the model, or gives no example request for it."""


@dataclass(frozen=True, slots=True)
class ModelCase:
    """One model's generate operation, as the document states it."""

    model: str
    operation: str
    schema: Mapping[str, Any]  # the request schema (a file reference read from the contract)
    body: dict[str, Any]  # the first example, media inputs pointed at the URLs given


def load_document(where: str, timeout: float, token: str | None = None) -> dict[str, Any]:
    """An OpenAPI document from a URL (fetched, with ``token`` as a bearer credential when
    given) or a file."""
    if where.startswith(("http://", "https://")):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        seen = request("GET", where, headers=headers, timeout=timeout)
        document = seen.json()
        if seen.status != 200 or not isinstance(document, dict):
            hint = ""
            if seen.status == 401:
                hint = (
                    " (the gateway's operator API wants a token:"
                    " --mockgateway-gateway-operator-token, or --mockgateway-gateway-openapi"
                    " naming a saved document)"
                )
            raise ModelNotDescribed(f"no OpenAPI document at {where}: {seen.describe()}{hint}")
        return document
    try:
        loaded: dict[str, Any] = json.loads(Path(where).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelNotDescribed(f"cannot read the OpenAPI document {where}: {exc}") from None
    return loaded


def builtin_document() -> dict[str, Any]:
    return load_openapi()


def _resolved(document: Mapping[str, Any], schema: Any) -> Mapping[str, Any]:
    ref = schema.get("$ref") if isinstance(schema, Mapping) else None
    if not isinstance(ref, str):
        return schema if isinstance(schema, Mapping) else {}
    if ref.startswith("#/"):
        node: Any = document
        for part in ref[2:].split("/"):
            node = node[part]
        return _resolved(document, node)
    name = ref.rsplit("/", 1)[-1].removesuffix(".schema.json")
    if name in SCHEMA_NAMES:  # one of the contract's shared files, as openapi.json names them
        return load_schema(name)
    raise ModelNotDescribed(f"cannot follow the request schema's reference {ref!r}")


def _example(media: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, Any] | None:
    if isinstance(media.get("example"), dict):
        return dict(media["example"])
    named = media.get("examples")
    if isinstance(named, Mapping):
        for item in named.values():
            if isinstance(item, Mapping) and isinstance(item.get("value"), dict):
                return dict(item["value"])
    listed = schema.get("examples")
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        return dict(listed[0])
    return None


def case_for(
    document: Mapping[str, Any],
    model: str,
    *,
    operation: str | None,
    urls: Mapping[str, str],
    resolution: str | None,
) -> ModelCase:
    """The model's case; ``urls`` maps a media kind (``image``, ``audio``) to the URL to send."""
    paths = document.get("paths", {})
    found = [
        (path, item["post"])
        for path, item in paths.items()
        if isinstance(item, Mapping)
        and isinstance(item.get("post"), Mapping)
        and path.split("/")[1:3] == [model, "v1"]
        and (operation is None or path == f"/{model}/v1/{operation}")
    ]
    if not found:
        models = sorted({p.split("/")[1] for p in paths if p.count("/") == 3 and "/v1/" in p})
        raise ModelNotDescribed(
            f"the OpenAPI document has no generate operation for model {model!r}"
            f"{f' and operation {operation!r}' if operation else ''}"
            f" (it describes: {', '.join(models) or 'none'})"
        )
    path, spec = found[0]
    media = spec.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = _resolved(document, media.get("schema", {}))
    body = _example(media, schema)
    if body is None:
        raise ModelNotDescribed(f"the OpenAPI document gives no example request for {model!r}")
    properties = schema.get("properties", {})
    described = spec.get(MODEL_EXTENSION, {}).get("inputs")
    inputs = (
        dict(described)
        if isinstance(described, Mapping)
        else {n: n.removesuffix("_url") for n in ("image_url", "audio_url") if n in properties}
    )
    for name, kind in inputs.items():
        if kind in urls and (name in body or name in schema.get("required", [])):
            body[name] = urls[kind]
    if resolution is not None and "resolution" in properties:
        body["resolution"] = resolution
    return ModelCase(model=model, operation=path.split("/")[3], schema=schema, body=body)
