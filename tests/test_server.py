"""The in-process API: async and threaded serving, for async and synchronous clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

import mockgateway
from mockgateway import ManualClock

from .support import DOC_BODY, GENERATE_PATH, KEY, memory_of


def post(url: str, body: object, key: str = KEY) -> dict[str, object]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": key},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)  # type: ignore[no-any-return]


def get(url: str, key: str = KEY) -> dict[str, object]:
    request = urllib.request.Request(url, headers={"Ocp-Apim-Subscription-Key": key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)  # type: ignore[no-any-return]


def test_threaded_gateway_serves_a_synchronous_client_on_a_driven_clock() -> None:
    config = mockgateway.config_from_mapping({"clock": {"mode": "manual"}})
    with mockgateway.serve_in_thread(config, clock=ManualClock(1_774_951_200.0)) as gw:
        assert gw.url.startswith("http://127.0.0.1:")
        created = post(gw.url + GENERATE_PATH, DOC_BODY)
        assert get(str(created["polling_url"]))["status"] == "QUEUED"
        gw.advance(1)
        assert get(str(created["polling_url"]))["status"] == "PROCESSING"
        gw.advance(2)
        done = get(str(created["polling_url"]))
        assert done["status"] == "COMPLETED"
        assert done["completed_at"] == "2026-03-31T10:00:03.000Z"
        assert gw.run(lambda: len(memory_of(gw.gateway).jobs)) == 1
    with pytest.raises(urllib.error.URLError):
        get(str(created["polling_url"]))  # stopped with the block


def test_threaded_gateway_reports_a_bind_failure() -> None:
    with mockgateway.serve_in_thread() as first:
        port = int(first.url.rsplit(":", 1)[1])
        with pytest.raises(OSError, match="address"), mockgateway.serve_in_thread(port=port):
            pass


async def test_async_serve_on_a_chosen_host_and_free_port() -> None:
    async with mockgateway.serve(host="127.0.0.1", port=0) as gw:
        assert gw.port > 0
        assert gw.url == f"http://127.0.0.1:{gw.port}"
        assert gw.gateway.clock.mode.value == "real"
