"""A state file that cannot be written for a while (a full disk, here SQLite's ``query_only``, which
fails every write the same way): answers already decided are not turned into errors, timed work
that met the outage runs once the file can be written again, and a faulty task does not take the
tasks claimed with it down."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockgateway import ManualClock
from mockgateway.store import StoreUnavailable
from mockgateway.store._sqlite import SqliteStore

from .support import KEY, manual_config, served

START = 1_774_951_200.0


def _writable(store: object, yes: bool) -> None:
    assert isinstance(store, SqliteStore)
    conn = store._db.conn
    assert conn is not None
    conn.execute(f"PRAGMA query_only = {'OFF' if yes else 'ON'}")


async def test_jobs_due_while_the_file_could_not_be_written_run_once_it_can(
    tmp_path: Path,
) -> None:
    config = manual_config(state={"backend": "sqlite", "path": str(tmp_path / "state.db")})
    async with served(config, clock=ManualClock(START)) as (gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(3)]
        store = gw.gateway.store
        _writable(store, False)
        with pytest.raises(StoreUnavailable):
            await gw.advance(10)
        # A wallet's page only reads: it is answered, though its journal entry cannot be written
        # (that failure came out as a 500). A poll counts itself on its job: a 503, as a submit.
        page = await client.request("GET", f"/_mock/wallets/{KEY}")
        assert page.status == 200, page.body
        assert page.body["balance"] == "10.00"
        for refused in (await client.status(ids[0]), await client.generate()):
            assert refused.status == 503, refused.body
        _writable(store, True)
        await gw.advance(10)
        seen = [(await client.status(i)).body["status"] for i in ids]
        assert seen == ["COMPLETED"] * 3
        wallet = await client.admin("GET", f"wallets/{KEY}")
        assert wallet["held"] == "0.00"
        assert [e["movement"] for e in wallet["ledger"]].count("charge") == 3


async def test_a_faulty_task_does_not_lose_those_claimed_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with served(manual_config(), clock=ManualClock(START)) as (gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(3)]
        lifecycle = gw.gateway.lifecycle
        run_task = lifecycle.run_task
        failed: list[str] = []

        async def first_fails(task: object) -> None:
            if not failed:
                failed.append(getattr(task, "ref", ""))
                raise RuntimeError("a faulty task")
            await run_task(task)  # type: ignore[arg-type]

        monkeypatch.setattr(lifecycle, "run_task", first_fails)
        with pytest.raises(RuntimeError, match="a faulty task"):
            await gw.advance(10)
        await gw.advance(10)
        seen = {i: (await client.status(i)).body["status"] for i in ids}
        assert len(failed) == 1
        assert failed[0] in seen
        assert [s for i, s in seen.items() if i != failed[0]] == ["COMPLETED"] * 2


async def test_health_says_the_file_cannot_be_written_until_it_can(tmp_path: Path) -> None:
    """Health read counts only, so it said ``ok`` while every submit answered 503."""
    config = manual_config(state={"backend": "sqlite", "path": str(tmp_path / "state.db")})
    async with served(config, clock=ManualClock(START)) as (gw, client):
        store = gw.gateway.store
        assert (await client.request("GET", "/_mock/health", key=None)).status == 200
        _writable(store, False)
        refused = await client.generate()
        assert refused.status == 503, refused.body
        for answer in (refused, await client.request("GET", "/_mock/health", key=None)):
            assert answer.status == 503, answer.body
            assert answer.body["error"] == "Service Unavailable"
            assert "state.path" in answer.body["message"]
            assert "readonly database" in answer.body["message"]
        _writable(store, True)  # room again: health's own write goes through, and says so
        health = await client.request("GET", "/_mock/health", key=None)
        assert health.status == 200, health.body
        assert health.body["status"] == "ok"
        assert (await client.generate()).status == 202
        assert isinstance(store, SqliteStore)
        conn = store._db.conn
        assert conn is not None
        rows = conn.execute("SELECT name FROM meta ORDER BY name").fetchall()
        assert "write check" not in [name for (name,) in rows]  # it left nothing behind
