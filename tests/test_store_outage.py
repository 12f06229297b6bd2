"""A state file that cannot be written for a while (a full disk, here SQLite's ``query_only``, which
fails every write the same way): answers already decided are not turned into errors, timed work
that met the outage runs once the file can be written again, and a faulty task does not take the
tasks claimed with it down."""

from __future__ import annotations

import resource
import signal
from pathlib import Path

import pytest

from mockgateway import ManualClock
from mockgateway.store import StoreUnavailable
from mockgateway.store import _sqlite as sqlite_store
from mockgateway.store._sqlite import SqliteStore

from .gateway_process import admin, call, start_gateway, submit
from .store_support import sqlite_writable
from .support import KEY, manual_config, served

START = 1_774_951_200.0


async def test_jobs_due_while_the_file_could_not_be_written_run_once_it_can(
    tmp_path: Path,
) -> None:
    config = manual_config(state={"backend": "sqlite", "path": str(tmp_path / "state.db")})
    async with served(config, clock=ManualClock(START)) as (gw, client):
        ids = [(await client.generate()).body["request_id"] for _ in range(3)]
        store = gw.gateway.store
        sqlite_writable(store, False)
        with pytest.raises(StoreUnavailable):
            await gw.advance(10)
        # A wallet's page only reads: it is answered, though its journal entry cannot be written
        # (that failure came out as a 500). A poll counts itself on its job: a 503, as a submit.
        page = await client.request("GET", f"/_mock/wallets/{KEY}")
        assert page.status == 200, page.body
        assert page.body["balance"] == "10.00"
        for refused in (await client.status(ids[0]), await client.generate()):
            assert refused.status == 503, refused.body
        sqlite_writable(store, True)
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
        sqlite_writable(store, False)
        refused = await client.generate()
        assert refused.status == 503, refused.body
        for answer in (refused, await client.request("GET", "/_mock/health", key=None)):
            assert answer.status == 503, answer.body
            assert answer.body["error"] == "Service Unavailable"
            assert "state.path" in answer.body["message"]
            assert "readonly database" in answer.body["message"]
        sqlite_writable(store, True)  # room again: health's own write goes through, and says so
        health = await client.request("GET", "/_mock/health", key=None)
        assert health.status == 200, health.body
        assert health.body["status"] == "ok"
        assert (await client.generate()).status == 202
        assert isinstance(store, SqliteStore)
        conn = store._db.conn
        assert conn is not None
        rows = conn.execute("SELECT name FROM meta ORDER BY name").fetchall()
        assert "write check" not in [name for (name,) in rows]  # it left nothing behind


async def test_health_waits_for_room_beside_the_file_after_a_write_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a full disk a small write can still fit in a page the file has: health's own write
    would pass while a submit does not. Until there is room beside the file, health says so."""
    config = manual_config(state={"backend": "sqlite", "path": str(tmp_path / "state.db")})
    room = {"free": 10 << 20}
    monkeypatch.setattr(sqlite_store, "free_bytes", lambda path: room["free"])
    async with served(config, clock=ManualClock(START)) as (gw, client):
        store = gw.gateway.store
        room["free"] = 4096  # ignored while writes go through
        assert (await client.request("GET", "/_mock/health", key=None)).status == 200
        sqlite_writable(store, False)
        assert (await client.generate()).status == 503
        sqlite_writable(store, True)  # a small write fits again; the room is not there yet
        health = await client.request("GET", "/_mock/health", key=None)
        assert health.status == 503, health.body
        assert "(4,096 bytes free beside the state file)" in health.body["message"]
        room["free"] = 10 << 20
        assert (await client.request("GET", "/_mock/health", key=None)).status == 200
        assert (await client.generate()).status == 202


FILE_SIZE_LIMIT = 400_000  # bytes any file of the gateway process may reach


def _file_size_limited() -> None:
    """In the child: files stop growing at the limit, as on a full disk; a write past it fails
    (EFBIG) instead of the signal killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.RLIM_INFINITY))


def test_a_state_file_that_cannot_grow_answers_503_until_it_can(tmp_path: Path) -> None:
    """A real failure of the file system, with no privilege needed: a process file-size limit.
    The commit fails with an I/O error; health said ``ok`` then (its own write was small enough
    to fit where a step's was not). Once the file can grow, every acknowledged job ends."""
    config = tmp_path / "gateway.toml"
    config.write_text('[clock]\nmode = "manual"\n')
    served = start_gateway(
        "--config", str(config), "--state", str(tmp_path / "state.db"), preexec=_file_size_limited
    )
    try:
        accepted: list[str] = []
        for _ in range(2000):  # a few dozen fill the limit
            status, body = submit(served.url)
            if status != 202:
                break
            accepted.append(body["request_id"])
        assert status == 503, body
        assert accepted
        assert "state.path" in body["message"]
        assert "not stored" in body["message"]
        health, answer = call(f"{served.url}/_mock/health", key=None)
        assert health == 503, answer
        cause = body["message"].rsplit(": ", 1)[-1]  # as SQLite said it: "disk I/O error)."
        assert answer["message"].endswith(cause), (answer, cause)
        grown = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
        resource.prlimit(served.process.pid, resource.RLIMIT_FSIZE, grown)
        health, answer = call(f"{served.url}/_mock/health", key=None)
        assert health == 200, answer
        admin(served.url, "POST", "clock/advance", {"seconds": 10})
        statuses = {call(f"{served.url}/v2/requests/status/{i}")[1]["status"] for i in accepted}
        assert statuses == {"COMPLETED"}
        wallet = admin(served.url, "GET", f"wallets/{KEY}")
        assert wallet["held"] == "0.00"
        charged = [e["request_id"] for e in wallet["ledger"] if e["movement"] == "charge"]
        assert sorted(charged) == sorted(accepted)
    finally:
        served.stop()


async def test_health_says_the_state_file_was_removed_or_replaced(tmp_path: Path) -> None:
    """Removing the state file (to start afresh, say) leaves the gateway writing to the file it
    has open, which is lost when it stops: health says so, as it cannot keep state any more."""
    path = tmp_path / "state.db"
    config = manual_config(state={"backend": "sqlite", "path": str(path)})
    async with served(config, clock=ManualClock(START)) as (_gw, client):
        assert (await client.generate()).status == 202
        assert (await client.request("GET", "/_mock/health", key=None)).status == 200
        path.unlink()
        for gone in ("removed", "replaced by another file"):
            health = await client.request("GET", "/_mock/health", key=None)
            assert health.status == 503, health.body
            message = health.body["message"]
            assert f"the state file {str(path)!r} was {gone} while the gateway ran" in message
            assert "restart it" in message
            path.write_bytes(b"")  # another file under the name
