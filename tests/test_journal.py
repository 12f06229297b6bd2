from __future__ import annotations

import json

from mockgateway import Journal, JournalEntry
from mockgateway._journal import redact_headers, redact_key

from .support import KEY, served


def entry(seq: int) -> JournalEntry:
    return JournalEntry(
        seq=seq, kind="request", route="status", method="GET", url="u", path="/p", headers={}
    )


def test_journal_is_bounded_and_counts_what_it_dropped() -> None:
    journal = Journal(max_entries=3)
    for i in range(1, 6):
        journal.append(entry(i))
    assert [e.seq for e in journal] == [3, 4, 5]
    assert journal.dropped == 2
    assert [e.seq for e in journal.entries(since=4)] == [5]


def test_dropped_counts_from_the_last_clear() -> None:
    journal = Journal(max_entries=3)
    for _ in range(4):
        journal.append_lazy(lambda seq: entry(seq))
    assert journal.dropped == 1
    journal.clear()
    assert journal.dropped == 0
    for _ in range(5):
        journal.append_lazy(lambda seq: entry(seq))
    assert journal.dropped == 2
    seqs = [e.seq for e in journal]
    assert seqs == sorted(seqs)
    assert seqs[0] > 4  # numbering goes on across a clear
    assert journal.dropped == 2  # reading (materializing) does not change the count


def test_journal_round_trips_through_json() -> None:
    journal = Journal()
    journal.append(entry(1))
    assert Journal.load(journal.dump()) == [entry(1)]


def test_keys_are_redacted_to_their_last_four_characters() -> None:
    assert redact_key("abcdefgh1234") == "****1234"
    assert redact_key("abc") == "****"
    headers = redact_headers({"ocp-apim-subscription-key": "secret-9876", "Accept": "*/*"})
    assert headers == {"ocp-apim-subscription-key": "****9876", "Accept": "*/*"}


async def test_every_request_is_journaled_with_gateway_times_and_no_secret() -> None:
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(5)
        await client.status(rid)
        await client.generate(key=None)
        data = await client.admin("GET", "journal")
        rows = [e for e in data["entries"] if e["route"] != "admin"]
        assert [(e["route"], e["status"]) for e in rows] == [
            ("generate", 202),
            ("status", 200),
            ("generate", 401),
        ]
        first, second, third = rows
        assert first["request_id"] == rid
        assert first["body"]["resolution"] == "1080p"
        assert first["body_sha256"]
        assert first["body_size"] > 0
        assert first["response_body"]["status"] == "QUEUED"
        assert first["key"] == "****" + KEY[-4:]
        assert KEY not in str(data)
        assert second["started_at"] - first["started_at"] == 5
        assert third["key"] is None
        # the response headers as sent, including those aiohttp adds when it sends the answer
        sent = {name.lower(): value for name, value in second["response_headers"].items()}
        assert sent["content-type"] == "application/json"
        assert int(sent["content-length"]) == len(json.dumps(second["response_body"]))
        assert second["headers"]["Ocp-Apim-Subscription-Key"] == "****" + KEY[-4:]
        assert third["response_body"]["statusCode"] == 401
        since = await client.admin("GET", f"journal?since={second['seq']}")
        assert next(e["seq"] for e in since["entries"]) == third["seq"]


async def test_journal_can_be_switched_off_and_cleared() -> None:
    async with served() as (gw, client):
        await client.generate()
        assert len(gw.gateway.journal) == 1
        await client.admin("DELETE", "journal")
        assert len(gw.gateway.journal) == 1  # only the DELETE itself
        gw.gateway.journal.enabled = False
        await client.generate()
        assert len(gw.gateway.journal) == 1
