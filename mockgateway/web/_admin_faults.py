"""The operator's control of failure simulation under ``/_mock/``: the scenario and job commands.

``PUT /_mock/scenario`` takes the scenario sections as JSON, or the same as TOML text
(``Content-Type: application/toml`` or ``text/plain``); ``DELETE`` goes back to the scenario the
gateway started with. ``POST /_mock/jobs/{request_id}/{command}`` drives one job.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .._bodyparse import json_body, toml_body
from .._errors import ConfigError, bad_request
from ..faults import FaultEngine, action_name, faults_from_mapping
from ._admin import job_detail, json_object_body
from ._bind import Routes, endpoint
from ._exchange import Exchange, json_answer, read_body

_TOML_TYPES = frozenset({"application/toml", "text/toml", "text/x-toml", "text/plain"})


def scenario_view(engine: FaultEngine) -> dict[str, Any]:
    config = engine.config
    return {
        "source": config.source,
        "seed": config.scenario.seed,
        "time_scale": config.scenario.time_scale,
        "scenario_keys": config.scenario.keys,
        "scenario_header": config.scenario.header,
        "rules": [
            {"name": r.name, "action": action_name(r.action), "scenario": r.scenario}
            for r in config.rules
        ],
        "scenarios": {
            name: (engine.builtins[name].summary if name in engine.builtins else "from the file")
            for name in sorted(engine.scenarios)
        },
        "delays": {
            "queue_polls": config.delays.queue_polls,
            "processing_polls": config.delays.processing_polls,
        },
    }


@endpoint("admin")
async def get_scenario(request: web.Request, ex: Exchange) -> web.Response:
    return json_answer(ex, 200, scenario_view(ex.gateway.faults))


@endpoint("admin")
async def put_scenario(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    limit = 1024 * 1024
    raw = await read_body(request, ex, limit)
    source = "PUT /_mock/scenario"
    try:
        if request.content_type in _TOML_TYPES:
            data = toml_body(raw, max_bytes=limit)
        else:
            data = json_body(raw or b"{}", max_bytes=limit)
            if not isinstance(data, dict):
                raise bad_request("request body must be a JSON object of scenario sections")
        config = faults_from_mapping(data, source)
    except ConfigError as exc:
        raise bad_request(str(exc)) from None
    await gateway.set_scenario(config, data)
    return json_answer(ex, 200, scenario_view(gateway.faults))


@endpoint("admin")
async def delete_scenario(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    await gateway.set_scenario(None)
    return json_answer(ex, 200, scenario_view(gateway.faults))


@endpoint("admin")
async def job_command(request: web.Request, ex: Exchange) -> web.Response:
    gateway = ex.gateway
    body = await json_object_body(request, ex, limit=64 * 1024, example='{"message": "..."}')
    message = body.get("message")
    if message is not None and not isinstance(message, str):
        raise bad_request("message must be a string")
    request_id = request.match_info["request_id"]
    job = await gateway.lifecycle.command(request_id, request.match_info["command"], message)
    await gateway.settle()
    job = await gateway.store.get_job(request_id) or job
    return json_answer(ex, 200, await job_detail(gateway, job))


def add_fault_admin_routes(r: Routes) -> None:
    r.get("/_mock/scenario", get_scenario, "admin.scenario")
    r.add("PUT", "/_mock/scenario", put_scenario, "admin.scenario.put")
    r.add("DELETE", "/_mock/scenario", delete_scenario, "admin.scenario.delete")
    r.add("POST", "/_mock/jobs/{request_id}/{command}", job_command, "admin.job.command")
