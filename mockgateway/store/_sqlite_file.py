"""Opening a SQLite state file: one owner (a lock beside it), its identity and layout checked.

A state file is refused, never misread: a path in a missing directory, a file that is not a
database, a database of another program and one of another :data:`LAYOUT_VERSION` each stop the
gateway with a :class:`StoreError` naming ``state.path`` and what is wrong. One process owns a
file at a time (an exclusive ``flock`` on ``<path>.lock`` for the life of the store), which is what
makes the store's in-process caches safe.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from pathlib import Path

from ._types import LAYOUT_VERSION, StoreError

SETTING = "state.path"
APPLICATION_ID = 0x4D475354  # "MGST": marks a mockgateway state file in its header

SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE state (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    status TEXT NOT NULL,
    ended INTEGER,
    ended_at REAL,
    polls INTEGER NOT NULL,
    phase_polls INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX jobs_by_key ON jobs (key, seq);
CREATE INDEX jobs_by_status ON jobs (status, seq);
CREATE INDEX jobs_by_end ON jobs (ended) WHERE ended IS NOT NULL;
CREATE TABLE wallets (
    key TEXT PRIMARY KEY,
    balance TEXT NOT NULL,
    held TEXT NOT NULL,
    charged TEXT NOT NULL DEFAULT '0',
    ledger_size INTEGER NOT NULL,
    ledger_first INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE holds (
    key TEXT NOT NULL, request_id TEXT NOT NULL, amount TEXT NOT NULL,
    PRIMARY KEY (key, request_id)
) WITHOUT ROWID;
CREATE TABLE ledger (
    key TEXT NOT NULL, n INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (key, n)
) WITHOUT ROWID;
CREATE TABLE blobs (
    digest BLOB PRIMARY KEY, size INTEGER NOT NULL, refs INTEGER NOT NULL, data BLOB NOT NULL
);
CREATE TABLE media (
    request_id TEXT PRIMARY KEY,
    mseq INTEGER NOT NULL UNIQUE,
    digest BLOB NOT NULL,
    content_type TEXT NOT NULL,
    etag TEXT NOT NULL
);
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    dseq INTEGER NOT NULL,
    outcomes TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX deliveries_by_job ON deliveries (request_id, dseq);
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY, due REAL NOT NULL, kind TEXT NOT NULL, ref TEXT NOT NULL
);
CREATE TABLE counters (name TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE buckets (
    name TEXT PRIMARY KEY, tokens REAL NOT NULL, updated REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE journal (seq INTEGER PRIMARY KEY, size INTEGER NOT NULL, data TEXT NOT NULL);
"""

# Every table but meta: what reset forgets.
FORGOTTEN_ON_RESET = (
    "jobs",
    "wallets",
    "holds",
    "ledger",
    "blobs",
    "media",
    "deliveries",
    "tasks",
    "counters",
    "buckets",
    "journal",
)


class StateFile:
    """An open state file: its connection and the lock that makes this process its one owner."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.db: sqlite3.Connection | None = None
        self._lock: int | None = None
        self._file_lock: int | None = None

    def open(self) -> sqlite3.Connection:
        try:
            self._check_path()
            self._take_lock()
            self.db = self._connect()
        except OSError as exc:  # a name too long, a loop of links, an I/O error, ...
            self.close()
            raise StoreError(
                f"cannot open the state file {str(self.path)!r}: {exc.strerror or exc}",
                setting=SETTING,
            ) from exc
        except BaseException:
            self.close()
            raise
        return self.db

    def gone(self) -> str | None:
        """Why the path no longer names the file this process has open (removed, or another
        file put in its place), or None: what is written then is lost when the file is closed."""
        if self._file_lock is None:
            return None
        held = os.fstat(self._file_lock)
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return "removed"
        except OSError as exc:
            return f"out of reach ({exc.strerror or exc})"
        if (named.st_dev, named.st_ino) != (held.st_dev, held.st_ino):
            return "replaced by another file"
        return None

    def close(self) -> None:
        if self.db is not None:
            with contextlib.suppress(sqlite3.Error):
                self.db.close()
            self.db = None
        for fd in (self._file_lock, self._lock):
            if fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        self._lock = self._file_lock = None

    def _check_path(self) -> None:
        path = self.path
        parent = path.parent
        if not parent.is_dir():
            what = "is not a directory" if parent.exists() else "does not exist"
            raise StoreError(
                f"cannot open the state file {str(path)!r}: its directory {str(parent)!r} {what}"
                " (create it first or choose another path)",
                setting=SETTING,
            )
        if path.is_dir():
            raise StoreError(
                f"{str(path)!r} is a directory, not a state file (give a file path such as"
                f" {str(path / 'mockgateway.db')!r})",
                setting=SETTING,
            )

    def _take_lock(self) -> None:
        # Named after the file itself, not the path given: a symbolic link to a state file in use
        # finds the same lock (and a hard link is caught by the lock on the database below).
        name = f"{os.path.realpath(self.path)}.lock"
        try:
            fd = os.open(name, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot create the lock file {name!r}: {exc.strerror}", setting=SETTING
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            owner = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise StoreError(
                f"the state file {str(self.path)!r} is in use by another mockgateway process"
                f" (pid {owner}, holding {name!r}); one process owns a SQLite state file: stop"
                " the other one, or give this one another path (replicas that share state use"
                " the redis backend)",
                setting=SETTING,
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = fd
        self._lock_file()

    def _lock_file(self) -> None:
        """An exclusive flock on the database file itself (SQLite's own locks are fcntl locks,
        which this does not touch): a second name for the same file (a hard link) is refused."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(
                f"cannot open the state file {str(self.path)!r}: {exc.strerror}", setting=SETTING
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(
                f"the state file {str(self.path)!r} is in use by another mockgateway process"
                " under another name (a link to the same file); one process owns a SQLite state"
                " file",
                setting=SETTING,
            ) from None
        self._file_lock = fd

    def _connect(self) -> sqlite3.Connection:
        shown = repr(str(self.path))
        try:
            # Only another program can hold a lock on a file this process owns: wait a second
            # for it (the event loop waits too), then answer that the store is unavailable.
            # As a file: URI built from the path, so SQLite opens that very file (the one locked):
            # a name such as file:x.db would otherwise be read as a URI naming x.db.
            db = sqlite3.connect(
                self.path.absolute().as_uri(),
                uri=True,
                timeout=1.0,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the state file {shown}: {exc}", setting=SETTING) from exc
        try:
            _check_identity(db, shown)
            damage = db.execute("PRAGMA quick_check(1)").fetchone()[0]
            if damage != "ok":
                raise StoreError(
                    f"the state file {shown} is damaged (SQLite's check: {damage!s:.200});"
                    " restore it from a copy, or move it away and start afresh",
                    setting=SETTING,
                )
            mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(
                    f"the state file {shown} cannot use write-ahead logging (journal_mode is"
                    f" {mode}); put it on a local file system",
                    setting=SETTING,
                )
            # WAL with synchronous=NORMAL: a commit is in the file when COMMIT returns (it
            # survives SIGKILL of this process); only an OS crash or power loss can lose the
            # last commits, never corrupt the file.
            db.execute("PRAGMA synchronous = NORMAL")
            # That sync happens at a checkpoint, inside the COMMIT that passes 4,000 pages of log
            # (16 MB): a quarter as many as SQLite's default 1,000, each a stall of tens of ms.
            # (A thread's PASSIVE checkpoints never catch up with steady writes: the log grows.)
            db.execute("PRAGMA wal_autocheckpoint = 4000")
            db.execute("PRAGMA journal_size_limit = 67108864")
            db.execute("PRAGMA cache_size = -32768")
            db.execute("PRAGMA temp_store = MEMORY")
        except sqlite3.OperationalError as exc:  # locked by another program, read-only, ...
            db.close()
            raise StoreError(
                f"cannot use the state file {shown}: SQLite says {exc!s:.200}", setting=SETTING
            ) from exc
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(
                f"{shown} is not a mockgateway state file: SQLite says {exc!s:.200}"
                " (move it away or choose another path)",
                setting=SETTING,
            ) from exc
        except BaseException:
            db.close()
            raise
        return db


def _check_identity(db: sqlite3.Connection, shown: str) -> None:
    """Create the layout in an empty file; refuse another program's database or another layout."""
    app = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if app == 0 and tables == 0:
        db.execute("BEGIN IMMEDIATE")  # the layout whole or not at all (executescript commits)
        for statement in SCHEMA.split(";"):
            if statement.strip():
                db.execute(statement)
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        db.execute(f"PRAGMA user_version = {LAYOUT_VERSION}")
        db.execute("COMMIT")
        return
    if app != APPLICATION_ID:
        raise StoreError(
            f"{shown} is a SQLite database of another program (application_id {app},"
            f" {tables} schema objects), not a mockgateway state file; move it away or choose"
            " another path",
            setting=SETTING,
        )
    if version != LAYOUT_VERSION:
        age = "an older" if version < LAYOUT_VERSION else "a newer"
        raise StoreError(
            f"{shown} was written by {age} mockgateway (state layout {version}; this one reads"
            f" layout {LAYOUT_VERSION}) and is refused rather than misread; move it away or"
            " choose another path",
            setting=SETTING,
        )
