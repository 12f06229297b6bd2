"""The journal shows an answer's headers as they were sent, on every backend.

aiohttp adds ``Date``, ``Server`` and ``Content-Length`` as it sends an answer. The memory journal
reads an answer's header map when the journal is read, by which time it holds them. SQLite and
Redis read an entry as it is recorded, so the edge has the answer's headers written first.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest

from mockgateway import ManualClock

from .redis_server import redis_server
from .support import manual_config, served

START = 1_774_951_200.0


def _state(backend: str, tmp_path: Path, stack: contextlib.ExitStack) -> dict[str, Any]:
    if backend == "sqlite":
        return {"backend": "sqlite", "path": str(tmp_path / "state.db")}
    if backend == "redis":
        return {"backend": "redis", "url": stack.enter_context(redis_server()).url}
    return {"backend": "memory"}


@pytest.mark.parametrize("backend", ["memory", "sqlite", "redis"])
async def test_journaled_answer_headers_are_those_the_client_received(
    backend: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        config = manual_config(state=_state(backend, tmp_path, stack))
        async with served(config, clock=ManualClock(START)) as (gw, client):
            submitted = await client.generate()
            await gw.advance(10)
            polled = await client.status(submitted.body["request_id"])
            unknown = await client.status("00000000-0000-7000-8000-000000000000")
            head = await client.request("HEAD", f"/v2/requests/status/{polled.body['request_id']}")
            assert (submitted.status, polled.status, unknown.status) == (202, 200, 404)
            journal = await client.admin("GET", "journal")
    entries = [e for e in journal["entries"] if e["route"] in ("generate", "status")]
    assert [e["status"] for e in entries] == [202, 200, 404, 200]
    for answer, entry in zip((submitted, polled, unknown, head), entries, strict=True):
        received = dict(answer.headers)
        assert {"Date", "Server", "Content-Length", "Content-Type"} <= received.keys()
        assert entry["response_headers"] == received, (backend, entry["method"], entry["path"])
