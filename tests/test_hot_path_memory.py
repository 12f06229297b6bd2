"""What the hot path remembers instead of working out again, and that remembering never changes an
answer: parsed bodies, fixed job plans, and jobs on inputs known at once."""

from __future__ import annotations

import dataclasses
import gc
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from mockgateway._billing import WalletState
from mockgateway._config import GatewayConfig
from mockgateway._errors import ApiError
from mockgateway._gateway import open_gateway
from mockgateway._ids import new_request_id, request_time
from mockgateway._jobs import Status, billing_record
from mockgateway._lifecycle import Lifecycle
from mockgateway._memo import Memo
from mockgateway.faults import FaultEngine, faults_from_mapping
from mockgateway.media import AvPipeline, InputRef
from mockgateway.models import _request, parse_request
from mockgateway.web import _hot

from .support import DOC_BODY, KEY, manual_config, memory_of, served

RAW = json.dumps(DOC_BODY).encode()


def omnihuman() -> Any:
    return GatewayConfig().models[0]


# parsed bodies ---------------------------------------------------------------------------------


def test_the_same_body_is_parsed_once_for_the_same_model() -> None:
    spec = omnihuman()
    first = parse_request(spec, RAW, max_bytes=1 << 20)
    assert parse_request(spec, bytes(bytearray(RAW)), max_bytes=1 << 20) is first
    assert first.inputs == (
        ("image_url", DOC_BODY["image_url"]),
        ("audio_url", DOC_BODY["audio_url"]),
    )


def test_a_body_remembered_for_one_model_is_parsed_again_for_another() -> None:
    spec = omnihuman()
    parse_request(spec, RAW, max_bytes=1 << 20)
    schema = dict(spec.request_schema)
    schema["required"] = [*schema["required"], "prompt"]
    stricter = dataclasses.replace(spec, request_schema=schema)  # same id, another contract
    with pytest.raises(ApiError, match="prompt is required"):
        parse_request(stricter, RAW, max_bytes=1 << 20)


def test_a_failing_body_is_not_remembered_and_the_limit_still_applies() -> None:
    spec = omnihuman()
    bad = json.dumps({**DOC_BODY, "resolution": "4k"}).encode()
    for _ in range(2):
        with pytest.raises(ApiError, match="resolution"):
            parse_request(spec, bad, max_bytes=1 << 20)
    assert all(raw != bad for _id, raw in _request._parsed)
    parse_request(spec, RAW, max_bytes=1 << 20)
    with pytest.raises(ApiError, match="over the limit"):  # remembered, yet too large here
        parse_request(spec, RAW, max_bytes=len(RAW) - 1)


def test_remembered_bodies_are_bounded_in_count_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_request, "_parsed", Memo(4))
    spec = omnihuman()
    for n in range(10):
        body = json.dumps({**DOC_BODY, "prompt": f"take {n}"}).encode()
        parse_request(spec, body, max_bytes=1 << 20)
        assert len(_request._parsed) <= 4
    large = json.dumps({**DOC_BODY, "prompt": "x" * (_request.PARSED_BODY_BYTES + 1)}).encode()
    parse_request(spec, large, max_bytes=1 << 20)
    assert all(raw != large for _id, raw in _request._parsed)


# job plans -------------------------------------------------------------------------------------


def engine(**sections: Any) -> FaultEngine:
    return FaultEngine(faults_from_mapping(sections, "unit"))


async def test_a_fixed_plan_is_made_once_and_shared() -> None:
    e = engine(delays={"queue": 3, "processing": 4})
    first = await e.plan_job("k", "m", None, "720p")
    assert (first.queue_seconds, first.processing_seconds) == (3.0, 4.0)
    assert await e.plan_job("other-key", "m", None, "720p") is first
    assert await e.plan_job("k", "m", None, "1080p") is not first  # another resolution


async def test_drawn_delays_are_drawn_for_each_job() -> None:
    e = engine(
        scenario={"seed": 7}, delays={"processing": {"kind": "uniform", "low": 1, "high": 9}}
    )
    drawn = {(await e.plan_job("k", "m", None)).processing_seconds for _ in range(5)}
    assert len(drawn) == 5
    assert all(d is not None and 1 <= d <= 9 for d in drawn)


async def test_a_job_rule_of_the_scenario_counts_every_job_and_others_are_shared() -> None:
    rule = {"action": "fail", "at": "queued", "nth": [2], "scenario": "flaky"}
    e = engine(faults=[rule])
    ends = [(await e.plan_job("k", "m", "flaky")).end for _ in range(3)]
    assert [end is not None for end in ends] == [False, True, False]  # the 2nd job of flaky fails
    plain = await e.plan_job("k", "m", None)
    assert plain.end is None
    assert await e.plan_job("k", "m", None) is plain  # the rule never applies without flaky


async def test_a_new_scenario_plans_with_its_own_delays() -> None:
    e = engine(delays={"queue": 3})
    assert (await e.plan_job("k", "m", None)).queue_seconds == 3.0
    await e.load(faults_from_mapping({"delays": {"queue": 5}}, "unit"))
    assert (await e.plan_job("k", "m", None)).queue_seconds == 5.0


# jobs on inputs known at once ------------------------------------------------------------------


async def test_a_job_on_inputs_probed_before_is_priced_in_its_start_step() -> None:
    gateway = await open_gateway(manual_config())
    try:
        lifecycle: Lifecycle = gateway.lifecycle
        spec = lifecycle.model(omnihuman().id)
        wallet = await gateway.accounts.authenticate("key-1")
        request = parse_request(spec, RAW, max_bytes=1 << 20)
        first = await lifecycle.submit(wallet, spec, request, webhook_url=None, media_base_url="x")
        await gateway.advance(10)
        done = await gateway.store.get_job(first.request_id)
        assert done is not None
        assert done.status is Status.COMPLETED

        second = await lifecycle.submit(wallet, spec, request, webhook_url=None, media_base_url="x")
        await lifecycle.start_processing(second.request_id)
        assert lifecycle.working == []  # no task of its own: its outcome is known already
        now = await gateway.store.get_job(second.request_id)
        assert now is not None
        assert (now.status, now.outcome) == (Status.PROCESSING, Status.COMPLETED)
        assert now.cost == done.cost
        assert now.duration_seconds == done.duration_seconds
        assert await gateway.store.held_for("key-1", second.request_id) == done.cost
        await gateway.advance(10)
        ended = await gateway.store.get_job(second.request_id)
        assert ended is not None
        assert ended.status is Status.COMPLETED
        assert ended.charged == done.charged
        assert ended.notes == done.notes  # the stand-in notes, as for the first
        media = await gateway.store.get_media(second.request_id)
        before = await gateway.store.get_media(first.request_id)
        assert media is not None
        assert before is not None
        assert media.data == before.data
    finally:
        await gateway.close()


async def test_a_job_whose_key_has_no_wallet_yet_opens_it_when_it_is_priced() -> None:
    gateway = await open_gateway(manual_config())
    try:
        lifecycle: Lifecycle = gateway.lifecycle
        spec = lifecycle.model(omnihuman().id)
        request = parse_request(spec, RAW, max_bytes=1 << 20)
        unopened = WalletState("key-without-wallet", Decimal("10.00"))  # never stored
        job = await lifecycle.submit(unopened, spec, request, webhook_url=None, media_base_url="x")
        assert await gateway.store.get_wallet(unopened.key) is None
        await gateway.advance(10)
        done = await gateway.store.get_job(job.request_id)
        assert done is not None
        assert (done.status, done.error) == (Status.COMPLETED, None)
        wallet = await gateway.store.get_wallet(unopened.key)
        assert wallet is not None  # opened with the default balance as its hold was made
        assert done.charged is not None
        assert done.charged > 0
        assert wallet.balance == Decimal("10.00") - done.charged
    finally:
        await gateway.close()


class _CountingNotes(AvPipeline):
    """The default pipeline, counting how often it is asked what it notes of a job's inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def input_notes(self, inputs: tuple[InputRef, ...]) -> tuple[str, ...]:
        self.asked += 1
        return super().input_notes(inputs)


async def test_what_the_pipeline_notes_of_a_request_s_inputs_is_worked_out_once() -> None:
    pipeline = _CountingNotes()
    gateway = await open_gateway(manual_config(), media=pipeline)
    try:
        lifecycle: Lifecycle = gateway.lifecycle
        spec = lifecycle.model(omnihuman().id)
        wallet = await gateway.accounts.authenticate("key-1")

        async def notes_of(body: dict[str, Any]) -> tuple[str, ...]:
            request = parse_request(spec, json.dumps(body).encode(), max_bytes=1 << 20)
            job = await lifecycle.submit(
                wallet, spec, request, webhook_url=None, media_base_url="x"
            )
            return lifecycle.input_notes(job)

        first = await notes_of(DOC_BODY)
        assert first  # the doc's URLs: bundled samples stand in for them
        assert all("sample" in note for note in first)
        assert await notes_of(DOC_BODY) == first
        assert pipeline.asked == 1  # the same inputs: asked once
        other = {**DOC_BODY, "image_url": "https://example.com/other.png"}
        assert await notes_of(other) != first
        assert pipeline.asked == 2  # other inputs: asked again
        long = {**DOC_BODY, "image_url": "https://example.com/" + "a" * 5000 + ".png"}
        await notes_of(long)
        await notes_of(long)
        assert pipeline.asked == 4  # inputs too long to remember are asked about each time
    finally:
        await gateway.close()


async def test_a_poll_of_an_ended_job_is_journaled_with_its_bill() -> None:
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        await gw.advance(10)
        assert (await client.status(rid)).body["status"] == "COMPLETED"
        job = memory_of(gw.gateway).jobs[rid]
        polls = [e for e in memory_of(gw.gateway).journal if e.route == "status"]
        assert polls[-1].billing == billing_record(job)
        assert Decimal(polls[-1].billing["charged"]) == job.charged


def test_request_ids_are_unique_and_carry_their_time() -> None:
    made = {new_request_id("m", 1_774_951_215.123) for _ in range(20_000)}
    assert len(made) == 20_000
    for rid in list(made)[:50]:
        model, _, tail = rid.rpartition("_")
        assert model == "m"
        assert request_time(tail) == pytest.approx(1_774_951_215.123, abs=0.001)
        assert tail[14] == "7"  # version 7
        assert tail[19] in "89ab"  # the RFC 9562 variant
    for rid in made:  # every one whole, across many batches of random bytes
        text = rid.rpartition("_")[2]
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
    assert {rid[21] for rid in made} == set("89ab")  # the variant's free bit is random


def test_request_ids_made_one_after_another_carry_each_its_own_millisecond() -> None:
    times = [1_774_951_215.0, 1_774_951_215.0004, 1_774_951_215.001, 1_774_951_215.0, 1.9e9]
    for t in times:
        tail = new_request_id("m", t).rpartition("_")[2]
        assert request_time(tail) == int(t * 1000) / 1000
        assert str(uuid.UUID(tail)) == tail


def test_request_ids_made_in_several_threads_never_repeat() -> None:
    def make() -> list[str]:
        return [new_request_id("m", 1_774_951_215.0) for _ in range(5_000)]

    with ThreadPoolExecutor(4) as pool:
        made = [rid for batch in pool.map(lambda _: make(), range(8)) for rid in batch]
    assert len(set(made)) == len(made) == 40_000


async def test_a_kept_job_and_its_journal_entries_are_few_objects_for_the_collector(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every object a kept job holds that the collector tracks is walked again on each of its
    collections: a finished job (its status answer as bytes, its history as plain pairs) and its
    two journal entries stay at a handful of them. (The matches kept for polled paths are a
    cache of at most POLLED_PATHS, whoever polls: held to one here, so as not to be counted as
    what a job holds.)"""
    monkeypatch.setattr(_hot, "POLLED_PATHS", 1)
    jobs = 200

    async def whole_jobs(client: Any, gw: Any) -> list[str]:
        ids = [(await client.generate(key=f"key-{n % 3}")).body["request_id"] for n in range(jobs)]
        await gw.advance(10)
        for rid in ids:
            assert (await client.status(rid, key=f"key-{ids.index(rid) % 3}")).status == 200
        return ids

    async with served(manual_config(keys={"default_balance": "1000000"})) as (gw, client):
        await whole_jobs(client, gw)  # warm: wallets, memos, connections
        gc.collect()
        before = len(gc.get_objects())
        ids = await whole_jobs(client, gw)
        gc.collect()
        per_job = (len(gc.get_objects()) - before) / jobs
        job = memory_of(gw.gateway).jobs[ids[-1]]
        assert isinstance(job.rendered, bytes)
        assert job.history == (
            ("QUEUED", job.created_at),
            ("PROCESSING", job.history[1][1]),
            ("COMPLETED", job.completed_at),
        )
        assert per_job <= 10.5, per_job


async def test_a_poll_repeated_keeps_its_entry_and_shares_the_rest_with_the_one_before() -> None:
    """A client polling one job sends the same request and is answered the same bytes: what its
    entries are built from is kept once, and each poll adds its own entry and the answer's header
    map, no more. The entries still differ where the polls did (their times)."""
    polls = 300
    async with served() as (gw, client):
        rid = (await client.generate()).body["request_id"]
        for _ in range(5):  # warm: the connection, the route's last exchange
            assert (await client.status(rid)).status == 200
        gc.collect()
        before = len(gc.get_objects())
        for n in range(polls):
            if n == polls // 2:
                await gw.advance(0.5)  # still QUEUED: the same answer, a later time
            assert (await client.status(rid)).status == 200
        gc.collect()
        per_poll = (len(gc.get_objects()) - before) / polls
        entries = [e for e in memory_of(gw.gateway).journal if e.route == "status"]
    assert per_poll <= 2.1, per_poll
    assert len(entries) == polls + 5
    assert {e.response_body["status"] for e in entries} == {"QUEUED"}
    times = [e.started_at for e in entries[5:]]
    assert times[0] + 0.5 == times[-1]
    assert len({e.seq for e in entries}) == len(entries)


def _wire_headers_kept(journal: Any) -> set[int]:
    """The identities of the wire header lists (pairs of bytes) the journal's kept entries hold."""
    kept: set[int] = set()
    for item in journal._entries:
        for piece in item[2] if isinstance(item, tuple) else ():
            if isinstance(piece, tuple) and piece and isinstance(piece[0], tuple):
                kept.add(id(piece))
    return kept


async def test_a_client_s_wire_headers_are_kept_once_for_all_its_entries() -> None:
    """Each request comes with its own parsed copy of the wire headers; the journal keeps the first
    one of a run of equal copies, whatever else differs (other jobs, other answers), so a full
    journal does not hold a copy of a client's headers per request."""
    async with served() as (gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(30)]
        await gw.advance(10)
        for rid in ids:
            assert (await client.status(rid)).status == 200
        journal = memory_of(gw.gateway).journal
        assert len(journal) == 60
        assert 1 <= len(_wire_headers_kept(journal)) <= 2  # the generates' and the polls'
        assert (await client.status(ids[0], key="another-key-5678")).status == 404
        assert len(_wire_headers_kept(journal)) <= 3  # other headers: kept as they came
        rows = list(journal)
    assert rows[-1].key == "****5678"
    assert {e.key for e in rows[:-1]} == {"****" + KEY[-4:]}
