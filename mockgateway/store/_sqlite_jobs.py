"""Jobs and their webhook deliveries in the state file, with retention.

Jobs are cached in-process as live objects (bounded, least recently used out), so a poll reads the
:class:`~mockgateway._jobs.Job` itself as with memory; counts by key and status are mirrored, so
totals, ``job_counts`` and ``active_jobs`` are dictionary reads. Ended jobs are numbered in the
order they ended; past ``retention`` the oldest go, with their media and deliveries.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .._jobs import Job, Status
from ._sqlite_journal import dumps
from ._sqlite_media import MediaTable
from ._sqlite_tx import Database, Step, bump
from ._types import DeliveryRecord, Page, Retention

_ACTIVE = (Status.QUEUED, Status.PROCESSING)
_POLL = "UPDATE jobs SET polls = ?, phase_polls = ? WHERE seq = ?"


class DeliveryTable:
    def __init__(self, db: Database) -> None:
        self._db = db
        self.outcomes: dict[str, int] = {}  # attempt outcomes over the deliveries kept
        self._seq = 0

    def load(self) -> None:
        db = self._db
        self._seq = db.one("SELECT max(dseq) FROM deliveries")
        self.outcomes = dict(
            db.execute(
                "SELECT value, count(*) FROM deliveries, json_each(deliveries.outcomes)"
                " GROUP BY value"
            )
        )

    def save(self, delivery: DeliveryRecord, job_exists: bool) -> None:
        db = self._db
        row = db.execute(
            "SELECT dseq, outcomes FROM deliveries WHERE id = ?", (delivery.id,)
        ).fetchone()
        if row is None and not job_exists:
            return
        names = [str(o.get("outcome", "other")) for o in delivery.outcomes]
        with db.tx() as step:
            if row is None:
                self._seq += 1
                dseq = self._seq
            else:
                dseq = row[0]
                for name in json.loads(row[1]):
                    bump(step, self.outcomes, name, -1)
            db.execute(
                "INSERT OR REPLACE INTO deliveries (id, request_id, dseq, outcomes, data)"
                " VALUES (?, ?, ?, ?, ?)",
                (delivery.id, delivery.request_id, dseq, dumps(names), dumps(delivery.to_dict())),
            )
            for name in names:
                bump(step, self.outcomes, name, 1)

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        row = self._db.execute(
            "SELECT data FROM deliveries WHERE id = ?", (delivery_id,)
        ).fetchone()
        return None if row is None else DeliveryRecord.from_dict(json.loads(row[0]))

    def of(self, request_id: str) -> list[DeliveryRecord]:
        rows = self._db.execute(
            "SELECT data FROM deliveries WHERE request_id = ? ORDER BY dseq", (request_id,)
        )
        return [DeliveryRecord.from_dict(json.loads(data)) for (data,) in rows]

    def forget(self, step: Step, request_id: str) -> None:
        db = self._db
        for (outcomes,) in db.execute(
            "SELECT outcomes FROM deliveries WHERE request_id = ?", (request_id,)
        ).fetchall():
            for name in json.loads(outcomes):
                bump(step, self.outcomes, name, -1)
        db.execute("DELETE FROM deliveries WHERE request_id = ?", (request_id,))


class JobTable:
    def __init__(
        self,
        db: Database,
        retention: Retention,
        media: MediaTable,
        deliveries: DeliveryTable,
        cache: int,
    ) -> None:
        self._db = db
        self.retention = retention
        self._media = media
        self._deliveries = deliveries
        self._cache_size = cache
        self._cache: OrderedDict[str, Job] = OrderedDict()
        self._counts: dict[Any, int] = {}  # (key, status) and status -> jobs
        self._n: dict[str, int] = {}  # ended
        self._seq = self._ended_seq = 0
        # told the end time of each job retention lets go (the store keeps the newest)
        self.on_forgotten: Callable[[Step, float], None] = lambda step, ended_at: None

    def load(self) -> None:
        db = self._db
        self._cache.clear()
        self._counts = {}
        for key, status, n in db.execute(
            "SELECT key, status, count(*) FROM jobs GROUP BY key, status"
        ):
            bump(None, self._counts, (key, Status(status)), n)
            bump(None, self._counts, Status(status), n)
        self._n = {"ended": db.one("SELECT count(*) FROM jobs WHERE ended IS NOT NULL")}
        self._seq = db.one("SELECT max(seq) FROM jobs")
        self._ended_seq = db.one("SELECT max(ended) FROM jobs")

    def _cache_job(self, job: Job) -> None:
        cache = self._cache
        cache[job.request_id] = job
        cache.move_to_end(job.request_id)
        if len(cache) > self._cache_size:
            cache.popitem(last=False)

    def _touch(self, step: Step, request_id: str) -> None:
        """A step may change this job's cached object: dropped from the cache if it fails."""
        step.undo.append(lambda: self._cache.pop(request_id, None))

    def get(self, request_id: str) -> Job | None:
        job = self._cache.get(request_id)
        if job is not None:
            self._cache.move_to_end(request_id)
        else:
            row = self._db.execute(
                "SELECT seq, polls, phase_polls, data FROM jobs WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                return None
            job = Job.from_dict(json.loads(row[3]))
            job.seq, job.polls, job.phase_polls = row[0], row[1], row[2]
            self._cache_job(job)
        step = self._db.in_step()
        if step is not None:
            self._touch(step, request_id)
        return job

    def exists(self, request_id: str) -> bool:
        if request_id in self._cache:
            return True
        row = self._db.execute("SELECT 1 FROM jobs WHERE request_id = ?", (request_id,))
        return row.fetchone() is not None

    def create(self, job: Job) -> None:
        with self._db.tx() as step:
            self._seq += 1
            job.seq = self._seq
            self._db.execute(
                "INSERT INTO jobs (seq, request_id, key, status, polls, phase_polls, data)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    job.seq,
                    job.request_id,
                    job.key,
                    job.status.value,
                    job.polls,
                    job.phase_polls,
                    dumps(job.to_dict()),
                ),
            )
            bump(step, self._counts, (job.key, job.status), 1)
            bump(step, self._counts, job.status, 1)
            self._cache_job(job)
            self._touch(step, job.request_id)

    def save(self, job: Job) -> None:
        db = self._db
        with db.tx() as step:
            row = db.execute(
                "SELECT status, ended FROM jobs WHERE request_id = ?", (job.request_id,)
            ).fetchone()
            if row is None:
                self._cache.pop(job.request_id, None)
                return  # forgotten (a reset or retention) while its step ran
            counted = Status(row[0])
            ends = job.status.terminal and row[1] is None
            ended, ended_at = row[1], None
            if ends:
                self._ended_seq += 1
                ended, ended_at = self._ended_seq, job.updated_at
            db.execute(
                "UPDATE jobs SET status = ?, ended = ?, ended_at = coalesce(ended_at, ?),"
                " polls = ?, phase_polls = ?, data = ? WHERE request_id = ?",
                (
                    job.status.value,
                    ended,
                    ended_at,
                    job.polls,
                    job.phase_polls,
                    dumps(job.to_dict()),
                    job.request_id,
                ),
            )
            if counted is not job.status:
                bump(step, self._counts, (job.key, counted), -1)
                bump(step, self._counts, counted, -1)
                bump(step, self._counts, (job.key, job.status), 1)
                bump(step, self._counts, job.status, 1)
            self._cache_job(job)
            self._touch(step, job.request_id)
            if ends:
                bump(step, self._n, "ended", 1)
                self._evict(step, job.updated_at)

    def forget_expired(self, now: float) -> None:
        with self._db.tx() as step:
            self._evict(step, now)

    def _evict(self, step: Step, now: float) -> None:
        retention = self.retention
        oldest = now - retention.max_age_seconds
        while self._n.get("ended", 0):
            row = self._db.execute(
                "SELECT request_id, ended_at FROM jobs WHERE ended IS NOT NULL"
                " ORDER BY ended LIMIT 1"
            ).fetchone()
            if row is None or (self._n.get("ended", 0) <= retention.max_jobs and row[1] >= oldest):
                return
            self._forget(step, row[0])
            self.on_forgotten(step, row[1])

    def _forget(self, step: Step, request_id: str) -> None:
        db = self._db
        row = db.execute(
            "SELECT key, status, ended FROM jobs WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return
        key, status = row[0], Status(row[1])
        db.execute("DELETE FROM jobs WHERE request_id = ?", (request_id,))
        bump(step, self._counts, (key, status), -1)
        bump(step, self._counts, status, -1)
        if row[2] is not None:
            bump(step, self._n, "ended", -1)
        self._cache.pop(request_id, None)
        self._media.drop(step, request_id)
        self._deliveries.forget(step, request_id)

    def poll(self, request_id: str, key: str | None = None) -> Job | None:
        job = self.get(request_id)
        if job is None or (key is not None and job.key != key):
            return None
        job.polls += 1
        job.phase_polls += 1
        params = (job.polls, job.phase_polls, job.seq)
        if self._db.in_step() is None:  # one statement commits by itself: no BEGIN, no COMMIT
            self._db.execute(_POLL, params)
        else:
            with self._db.tx():
                self._db.execute(_POLL, params)
        return job

    def list(
        self, status: Status | None, key: str | None, limit: int, cursor: str | None
    ) -> Page[Job]:
        where = ["seq < ?"]
        params: list[Any] = [int(cursor) if cursor is not None else self._seq + 1]
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if key is not None:
            where.append("key = ?")
            params.append(key)
        rows = self._db.execute(
            "SELECT seq, request_id, polls, phase_polls, data FROM jobs"
            f" WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        items: list[Job] = []
        for seq, request_id, polls, phase_polls, data in rows[:limit]:
            job = self._cache.get(request_id)  # a listing reads the cache but does not fill it
            if job is None:
                job = Job.from_dict(json.loads(data))
                job.seq, job.polls, job.phase_polls = seq, polls, phase_polls
            items.append(job)
        next_cursor = str(items[-1].seq) if len(rows) > limit and items else None
        counts = self._counts
        if key is None:
            total = counts.get(status, 0) if status is not None else self.total()
        elif status is None:
            total = sum(counts.get((key, s), 0) for s in Status)
        else:
            total = counts.get((key, status), 0)
        return Page(items, total, next_cursor)

    def total(self) -> int:
        return sum(self._counts.get(s, 0) for s in Status)

    def counts(self) -> dict[Status, int]:
        return {s: self._counts.get(s, 0) for s in Status}

    def active(self, key: str) -> int:
        counts = self._counts
        return sum(counts.get((key, s), 0) for s in _ACTIVE)
