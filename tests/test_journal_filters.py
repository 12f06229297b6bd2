"""The journal's listings filter by key, route, status and request id; a bad value is a 400."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .support import KEY, Client, served

OTHER = "another-key-9876"


async def _seqs(client: Client, query: str, path: str = "/_mock/journal") -> list[int]:
    answer = await client.request("GET", f"{path}?{query}", key=None)
    assert answer.status == 200, answer.raw
    if path.endswith(".har"):
        return [e["_seq"] for e in answer.body["log"]["entries"]]
    return [e["seq"] for e in answer.body["entries"]]


async def test_each_filter_narrows_the_listing_and_they_combine() -> None:
    async with served() as (_gw, client):
        mine = (await client.generate()).body["request_id"]
        theirs = (await client.generate(key=OTHER)).body["request_id"]
        await client.status(mine)
        await client.status("no-such-job")
        await client.generate(key=None)  # a 401, without a key
        journal = (await client.admin("GET", "journal"))["entries"]

        def where(test: Callable[[dict[str, Any]], bool]) -> list[int]:
            return [e["seq"] for e in journal if test(e)]

        mine_only = where(lambda e: e["key"] == "****" + KEY[-4:])
        assert len(mine_only) == 3
        for value in (KEY[-4:], KEY, "****" + KEY[-4:]):  # last four, whole key, redacted form
            assert await _seqs(client, f"key={value}") == mine_only
        assert await _seqs(client, f"key={OTHER}") == where(lambda e: e["request_id"] == theirs)
        assert await _seqs(client, "route=status") == where(lambda e: e["route"] == "status")
        assert await _seqs(client, "status=404") == where(lambda e: e["status"] == 404)
        assert await _seqs(client, "status=401") == where(lambda e: e["status"] == 401)
        by_job = await _seqs(client, f"request_id={mine}")
        assert by_job == where(lambda e: e["request_id"] == mine)
        assert len(by_job) == 2
        both = await _seqs(client, f"request_id={mine}&route=status&key={KEY[-4:]}")
        assert both == where(lambda e: e["request_id"] == mine and e["route"] == "status")
        assert await _seqs(client, f"key={KEY[-4:]}&status=401") == []
        assert await _seqs(client, "status=none") == []
        # the HAR listing takes the same filters
        assert await _seqs(client, "route=status", "/_mock/journal.har") == where(
            lambda e: e["route"] == "status"
        )


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("key=", "key must not be empty"),
        ("route=poll", "route must be one of generate, status, media, admin, other, webhook"),
        ("status=abc", "status must be an HTTP status from 100 to 599"),
        ("status=99", "status must be an HTTP status from 100 to 599"),
        ("status=%D9%A3", "status must be an HTTP status"),  # an Arabic-Indic digit three
        ("request_id=", "request_id must not be empty"),
        ("since=soon", "since must be a whole number"),
        # a misspelt filter would otherwise list the whole journal as if it had matched
        ("request-id=x", "unknown parameter 'request-id': the journal takes since, key, route"),
        ("requestId=x&route=status", "unknown parameter 'requestId'"),
    ],
)
@pytest.mark.parametrize("path", ["/_mock/journal", "/_mock/journal.har"])
async def test_a_bad_filter_value_is_a_400_naming_the_parameter(
    query: str, named: str, path: str
) -> None:
    async with served() as (_gw, client):
        answer = await client.request("GET", f"{path}?{query}", key=None)
    assert answer.status == 400
    assert answer.body["error"] == "Bad Request"
    assert answer.body["message"].startswith(named)
