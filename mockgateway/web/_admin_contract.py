"""``GET /_mock/openapi.json``: the OpenAPI document of this gateway's configuration.

One generate operation per enabled model, the status operation and a media operation per output
file name (:func:`mockgateway.contract.openapi_for`); with the built-in model alone it is the
package's ``openapi.json``.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aiohttp import web

from ..contract import openapi_for
from ..models import ModelSpec
from ._bind import Routes, endpoint
from ._exchange import Exchange, json_answer


@cache
def _document(
    models: tuple[ModelSpec, ...], video_filename: str, video_media_type: str
) -> tuple[dict[str, Any], bytes]:
    """The document and its bytes, built once per configuration (it never changes while the
    gateway runs)."""
    document = openapi_for(models, video_filename=video_filename, video_media_type=video_media_type)
    return document, json.dumps(document).encode()


@endpoint("admin")
async def get_openapi(request: web.Request, ex: Exchange) -> web.Response:
    config = ex.gateway.config
    lifecycle = config.lifecycle
    document, raw = _document(tuple(config.models), lifecycle.output_filename, lifecycle.media_type)
    return json_answer(ex, 200, document, raw=raw)


def add_contract_routes(r: Routes) -> None:
    r.get("/_mock/openapi.json", get_openapi, "admin.openapi")
