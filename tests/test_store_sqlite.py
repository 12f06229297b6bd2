"""What the SQLite store adds to the contract: one owner per file, files it refuses, steps that roll
back whole, and every acknowledged write surviving a SIGKILL (a real child process)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from mockgateway.media import RenderedMedia
from mockgateway.store import (
    LAYOUT_VERSION,
    Retention,
    StoreError,
    TaskKind,
    make_store,
    state_from_option,
)
from mockgateway.store._sqlite import SqliteStore

from .store_support import entry, make_job

ROOT = Path(__file__).resolve().parent.parent


def child(mode: str, path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.sqlite_child", mode, str(path), *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def refused(path: Path) -> str:
    store = SqliteStore(str(path))
    with pytest.raises(StoreError) as caught:
        await store.open()
    assert caught.value.setting == "state.path"
    message = str(caught.value)
    assert message.startswith("state.path: ")
    return message


async def test_serve_state_with_a_path_makes_this_store(tmp_path: Path) -> None:
    store = make_store(state_from_option(str(tmp_path / "state.db"), Retention(max_jobs=7)))
    assert isinstance(store, SqliteStore)
    assert store.retention.max_jobs == 7
    await store.open()
    await store.create_job(make_job(1))
    await store.close()
    missing = make_store(state_from_option(str(tmp_path / "no" / "s.db"), Retention()))
    with pytest.raises(StoreError, match=r"^state\.path: .*does not exist"):
        await missing.open()


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("name", ["file:x.db", "file:x.db?mode=ro", "state#1.db", "a b%41.db"])
async def test_a_path_that_reads_as_a_uri_is_that_very_file(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite reads a name that starts with file: as a URI (file:x.db is x.db), so the file it
    # opened was not the one locked, and a second process on x.db was not refused
    monkeypatch.chdir(tmp_path)
    store = SqliteStore(name)
    await store.open()
    try:
        await store.create_job(make_job(1))
        files = _names(tmp_path)
        assert (
            {name, f"{name}.lock"} <= files <= {name, f"{name}.lock", f"{name}-wal", f"{name}-shm"}
        )
        assert (tmp_path / name).stat().st_size > 0
    finally:
        await store.close()
    again = SqliteStore(str(tmp_path / name))
    await again.open()
    try:
        assert await again.get_job(make_job(1).request_id) is not None
    finally:
        await again.close()


# one owner ------------------------------------------------------------------------------------


async def test_a_second_process_on_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    owner = child("hold", path)
    try:
        assert owner.stdout is not None
        assert owner.stdout.readline().strip() == "open"
        message = await refused(path)
        assert "in use by another mockgateway process" in message
        assert f"pid {owner.pid}" in message
        assert "redis" in message  # where to go for shared state
    finally:
        owner.communicate("", timeout=10)
    assert owner.returncode == 0
    store = SqliteStore(str(path))  # the owner is gone: the file opens
    await store.open()
    await store.close()


async def test_the_second_process_is_the_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    await store.open()
    try:
        other = child("hold", path)
        out, _ = other.communicate("", timeout=20)
        assert other.returncode == 2
        assert out.startswith("refused state.path: ")
        assert f"pid {os.getpid()}" in out
    finally:
        await store.close()


async def test_a_killed_owner_leaves_the_file_free(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    owner = child("hold", path)
    assert owner.stdout is not None
    assert owner.stdout.readline().strip() == "open"
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    store = SqliteStore(str(path))
    await store.open()
    await store.close()


# files it refuses -----------------------------------------------------------------------------


async def test_a_path_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    message = await refused(tmp_path / "nowhere" / "state.db")
    assert "directory" in message
    assert "does not exist" in message
    assert "nowhere" in message
    assert not (tmp_path / "nowhere").exists()


async def test_a_path_the_system_cannot_use_is_refused_naming_the_setting(tmp_path: Path) -> None:
    # an OSError from the file system came out as a failure to listen (exit 1)
    too_long = tmp_path / ("a" * 300 + ".db")
    assert "File name too long" in await refused(too_long)
    (tmp_path / "one").symlink_to(tmp_path / "two")
    (tmp_path / "two").symlink_to(tmp_path / "one")
    assert "Too many levels of symbolic links" in await refused(tmp_path / "one")


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    message = await refused(tmp_path)
    assert "is a directory, not a state file" in message


async def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are my notes, not a database\n" * 200)
    message = await refused(path)
    assert "not a mockgateway state file" in message
    assert "file is not a database" in message
    assert path.read_bytes() == b"these are my notes, not a database\n" * 200  # untouched


async def test_a_file_another_program_holds_locked_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.close()
    other = sqlite3.connect(path, timeout=0)
    other.execute("PRAGMA locking_mode = EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # e.g. a sqlite3 shell left in a transaction
    try:
        message = await refused(path)
    finally:
        other.close()
    assert "cannot use the state file" in message
    assert "locked" in message


async def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (id INTEGER)")
    db.close()
    message = await refused(path)
    assert "database of another program" in message


@pytest.mark.parametrize(("version", "age"), [(LAYOUT_VERSION + 1, "newer"), (0, "older")])
async def test_a_database_of_another_layout_is_refused(
    tmp_path: Path, version: int, age: str
) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    await store.open()
    await store.create_job(make_job(1))
    await store.close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {version}")
    db.close()
    message = await refused(path)
    assert f"{age} mockgateway" in message
    assert f"state layout {version}" in message
    assert f"reads layout {LAYOUT_VERSION}" in message


async def test_an_empty_file_becomes_a_state_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.touch()
    store = SqliteStore(str(path))
    await store.open()
    await store.create_job(make_job(1))
    await store.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA user_version").fetchone() == (LAYOUT_VERSION,)
    db.close()


# steps ----------------------------------------------------------------------------------------


async def test_equal_media_bytes_are_stored_once_whatever_their_object(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"), Retention(max_media_bytes=1500))
    await store.open()
    for n in range(4):
        await store.create_job(make_job(n))
        await store.put_media(f"req-{n:05d}", RenderedMedia.of(bytes(bytearray(b"v" * 1000))))
    for n in range(4):  # four buffers, one content: 1000 bytes kept, nothing dropped
        media = await store.get_media(f"req-{n:05d}")
        assert media is not None
        assert media.data == b"v" * 1000
    await store.close()
    db = sqlite3.connect(tmp_path / "state.db")
    assert db.execute("SELECT count(*), sum(refs) FROM blobs").fetchone() == (1, 4)
    db.close()


async def test_a_journal_entry_recorded_in_a_failed_step_is_kept(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    await store.open()

    async def failing_step() -> None:
        async with store.atomic():
            await store.create_job(make_job(1))
            store.journal_append(entry, "/answered")  # the journal records what was answered
            raise RuntimeError("mid-step")

    with pytest.raises(RuntimeError, match="mid-step"):
        await failing_step()
    assert await store.get_job("req-00001") is None
    assert [e.path for e in await store.journal_entries()] == ["/answered"]
    await store.close()
    await store.open()
    assert [e.path for e in await store.journal_entries()] == ["/answered"]
    await store.close()


async def test_a_reset_in_a_failed_step_is_undone(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    await store.open()
    await store.create_job(make_job(1))
    await store.schedule(1.0, TaskKind.START, "req-00001")

    async def failing_step() -> None:
        async with store.atomic():
            await store.reset()
            raise RuntimeError("after the reset")

    with pytest.raises(RuntimeError, match="after the reset"):
        await failing_step()
    assert await store.get_job("req-00001") is not None
    assert await store.pending_tasks() == 1
    assert (await store.list_jobs()).total == 1
    await store.close()


async def test_a_write_outside_the_step_waits_for_nothing(tmp_path: Path) -> None:
    """A poll while another task's step is open joins that step's transaction, which commits
    when the step ends; a journal entry is written after it, committed or not."""
    store = SqliteStore(str(tmp_path / "state.db"))
    await store.open()
    job = make_job(1)
    await store.create_job(job)
    inside = asyncio.Event()
    go_on = asyncio.Event()

    async def step() -> None:
        async with store.atomic():
            await store.create_job(make_job(2))
            inside.set()
            await go_on.wait()

    task = asyncio.create_task(step())
    await inside.wait()
    polled = await store.poll_job(job.request_id)
    assert polled is not None
    assert polled.polls == 1
    store.journal_append(entry, "/during")
    assert [e.path for e in await store.journal_entries()] == ["/during"]
    go_on.set()
    await task
    await store.close()
    await store.open()
    polled = await store.get_job(job.request_id)
    assert polled is not None
    assert polled.polls == 1
    assert await store.get_job("req-00002") is not None
    assert [e.path for e in await store.journal_entries()] == ["/during"]
    await store.close()


async def test_a_claimed_task_not_acknowledged_is_handed_out_again_on_reopen(
    tmp_path: Path,
) -> None:
    store = SqliteStore(str(tmp_path / "state.db"))
    await store.open()
    await store.schedule(1.0, TaskKind.WEBHOOK, "d1")
    await store.schedule(2.0, TaskKind.WEBHOOK, "d2")
    claimed = await store.claim_due(5.0)
    assert [t.ref for t in claimed] == ["d1", "d2"]
    async with store.atomic():
        await store.ack(claimed[0])
    await store.close()  # as if it died before d2's step
    await store.open()
    assert [t.ref for t in await store.claim_due(5.0)] == ["d2"]
    await store.close()


async def test_jobs_beyond_the_cache_are_read_from_the_file(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "state.db"), cache_jobs=4)
    await store.open()
    jobs = [make_job(n) for n in range(10)]
    for job in jobs:
        await store.create_job(job)
    for job in jobs:
        polled = await store.poll_job(job.request_id)
        assert polled is not None
        assert polled.to_dict() == {**job.to_dict(), "polls": 1, "phase_polls": 1}
    await store.close()


# SIGKILL --------------------------------------------------------------------------------------


@pytest.mark.parametrize("when", ["writing", "idle"])
def test_every_acknowledged_write_survives_sigkill(tmp_path: Path, when: str) -> None:
    """Killed in the middle of its writes, or resting after its last one (where a write kept
    back to be batched with a later one would be lost)."""
    path = tmp_path / "state.db"
    writer = child("write", path, *(["300"] if when == "idle" else []))
    assert writer.stdout is not None
    steps: list[int] = []
    polls: dict[int, int] = {}
    journal: list[int] = []
    deadline = time.monotonic() + 30
    try:
        while (when == "idle" or len(steps) < 300) and time.monotonic() < deadline:
            line = writer.stdout.readline().split()
            if not line:
                break
            if line[0] == "step":
                steps.append(int(line[1]))
            elif line[0] == "poll":
                polls[int(line[1])] = int(line[2])
            elif line[0] == "journal":
                journal.append(int(line[1]))
            else:
                assert line == ["idle"]
                break
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait(10)
    assert writer.returncode == -signal.SIGKILL
    assert len(steps) >= 300, "the writer acknowledged too few steps"
    if when == "idle":
        assert journal[-1] == steps[-1] == 300

    async def check() -> None:
        store = SqliteStore(str(path), Retention(max_jobs=10**6))
        await store.open()  # the killed writer's lock went with it
        for n in steps:
            job = await store.get_job(f"req-{n:05d}")
            assert job is not None, f"acknowledged step {n} lost"
            assert job.polls >= polls.get(n, 0)
            assert await store.held_for("k", job.request_id) == Decimal("0.16")
        wallet = await store.get_wallet("k")
        assert wallet is not None
        assert wallet.held >= Decimal("0.16") * len(steps)
        assert wallet.held == Decimal("0.16") * (await store.list_jobs()).total  # whole steps
        assert await store.pending_tasks() >= len(steps)
        assert await store.pending_tasks() == (await store.list_jobs()).total
        seen = {e.path for e in await store.journal_entries()}
        for n in journal:
            assert f"/v2/requests/status/req-{n:05d}" in seen
        await store.close()

    asyncio.run(check())
