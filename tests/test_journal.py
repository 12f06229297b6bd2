from __future__ import annotations

import hashlib
import json

from mockgateway import Journal, JournalEntry, ManualClock
from mockgateway._journal import ENTRY_OVERHEAD, redact_headers, redact_key
from mockgateway.checker import check

from .support import DOC_BODY, GENERATE_PATH, KEY, manual_config, memory_of, served


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


async def test_journal_can_be_cleared_and_configured_off() -> None:
    async with served() as (gw, client):
        await client.generate()
        assert len(memory_of(gw.gateway).journal) == 1
        await client.admin("DELETE", "journal")
        assert len(memory_of(gw.gateway).journal) == 1  # only the DELETE itself
    async with served(manual_config(journal={"enabled": False})) as (gw, client):
        created = await client.generate()
        assert (await client.status(created.body["request_id"])).status == 200
        assert len(memory_of(gw.gateway).journal) == 0  # neither route journaled
        health = await client.admin("GET", "health")
        assert health["journal"]["enabled"] is False


def test_the_journal_is_bounded_in_bytes_and_evicts_the_oldest() -> None:
    journal = Journal(max_entries=1000, max_bytes=10 * ENTRY_OVERHEAD)
    for _ in range(30):
        journal.append_lazy(lambda seq: entry(seq), size=ENTRY_OVERHEAD)
    assert journal.kept_bytes <= journal.max_bytes
    assert len(journal) == 5  # each weighs its size and the overhead
    assert journal.dropped == 25
    seqs = [e.seq for e in journal]
    assert seqs == list(range(26, 31))
    assert journal.kept_bytes == 5 * 2 * ENTRY_OVERHEAD  # reading keeps the count
    journal.append_lazy(lambda seq: entry(seq), size=100 * ENTRY_OVERHEAD)
    assert len(journal) == 1  # one entry over the bound alone is still kept
    journal.clear()
    assert journal.kept_bytes == 0


def test_the_entry_bound_and_the_byte_count_agree() -> None:
    journal = Journal(max_entries=3)
    for _ in range(10):
        journal.append_lazy(lambda seq: entry(seq), size=7)
    assert journal.kept_bytes == 3 * (7 + ENTRY_OVERHEAD)


HOSTILE_PUTS = 300
BIG = 100 * 1024


async def test_big_bodies_are_kept_truncated_and_the_journal_stays_within_its_bytes() -> None:
    config = manual_config(journal={"max_body_bytes": 1024, "max_bytes": 256 * 1024})
    body = json.dumps({"balance": "x" * BIG}).encode()
    async with served(config, clock=ManualClock(0.0)) as (gw, client):
        for _ in range(HOSTILE_PUTS):
            answer = await client.request("PUT", f"/_mock/wallets/{KEY}", raw=body, key=None)
            assert answer.status == 400
        journal = memory_of(gw.gateway).journal
        assert journal.kept_bytes <= 256 * 1024
        assert journal.dropped > 0
        health = await client.admin("GET", "health")
        assert health["journal"]["bytes"] <= health["journal"]["max_bytes"] == 256 * 1024
        assert health["journal"]["max_body_bytes"] == 1024
        data = await client.admin("GET", "journal")
        puts = [e for e in data["entries"] if e["method"] == "PUT"]
        assert puts
        for e in puts:
            assert e["body_truncated"] is True
            assert e["body_unparsed"] is True
            assert e["body_size"] == len(body)
            assert e["body_sha256"] == hashlib.sha256(body).hexdigest()
            assert e["body"] == body[:1024].decode()
        # the listing just read is itself longer than the cap: its entry keeps the first part
        last = await client.admin("GET", "journal")
        (read,) = [e for e in last["entries"] if e["seq"] == data["entries"][-1]["seq"] + 1]
        assert read["path"] == "/_mock/journal"
        assert read["response_body_truncated"] is True
        assert read["response_body_size"] > 1024
        assert len(read["response_body"]) <= 1024


async def test_small_bodies_are_kept_whole_and_parsed() -> None:
    async with served() as (_gw, client):
        await client.generate()
        (row,) = (await client.admin("GET", "journal"))["entries"]
        assert row["body"] == DOC_BODY
        assert row["body_truncated"] is False
        assert row["body_unparsed"] is False
        assert row["response_body_truncated"] is False
        assert row["response_body_size"] == len(json.dumps(row["response_body"]))


async def test_the_checker_does_not_judge_a_generate_body_kept_only_in_part() -> None:
    config = manual_config(journal={"max_body_bytes": 256})
    inline = "data:image/png;base64," + "A" * 4096
    async with served(config, clock=ManualClock(0.0)) as (gw, client):
        assert (await client.generate({**DOC_BODY, "image_url": inline})).status == 202
        deep = b"[" * 100 + b"]" * 100  # kept whole, but past the reader's depth: not JSON
        assert (await client.request("POST", GENERATE_PATH, raw=deep)).status == 400
        entries = list(memory_of(gw.gateway).journal)
    assert [(e.body_truncated, e.body_unparsed) for e in entries] == [(True, True), (False, True)]
    (judged,) = check(entries).result("generate-body-schema").violations
    assert "not JSON" in judged.message
    assert judged.evidence[0].seq == entries[1].seq


async def test_repeated_polls_are_each_journaled_as_they_were_answered() -> None:
    # A poll that repeats the one before may share what the journal keeps of it; each entry
    # still says exactly what its own request was answered, as soon as anything differs.
    async with served() as (gw, client):
        first = (await client.generate()).body["request_id"]
        other = (await client.generate()).body["request_id"]
        answers = [await client.status(first), await client.status(first)]
        answers.append(await client.status(first, key="another-key-5678"))  # a stranger: 404
        await gw.advance(10)
        answers += [await client.status(first), await client.status(other)]
        answers.append(await client.status(first))
        data = await client.admin("GET", "journal")
        polls = [e for e in data["entries"] if e["route"] == "status"]
        assert len(polls) == len(answers) == 6
        for entry, answer in zip(polls, answers, strict=True):
            assert entry["status"] == answer.status
            assert entry["response_body"] == answer.body
            sent = {name.lower(): value for name, value in entry["response_headers"].items()}
            assert int(sent["content-length"]) == len(answer.raw)
            assert entry["request_id"] == answer.path.rsplit("/", 1)[1]
        assert [e["response_body"].get("status") for e in polls] == [
            "QUEUED",
            "QUEUED",
            None,
            "COMPLETED",
            "COMPLETED",
            "COMPLETED",
        ]
        assert polls[2]["key"] == "****5678"
        assert [e["key"] for e in polls[:2] + polls[3:]] == ["****" + KEY[-4:]] * 5
        assert [e["billing"] is not None for e in polls] == [False, False, False, True, True, True]
        assert polls[5]["billing"] == polls[3]["billing"]
        assert len({e["seq"] for e in polls}) == 6
        assert polls[1]["started_at"] == polls[0]["started_at"]
        assert polls[3]["started_at"] == polls[0]["started_at"] + 10
