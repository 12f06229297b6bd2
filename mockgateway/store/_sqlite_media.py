"""Rendered media in the state file: each distinct content once (by SHA-256), shared by the jobs
that use it, the oldest dropped past ``retention.max_media_bytes``. Recent contents are kept
in-process too (bounded in bytes), so a sample served to every job is read from the file once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from ..media import RenderedMedia
from ._sqlite_tx import Database, Step, bump

_CACHE_BYTES = 64 * 1024 * 1024


class MediaTable:
    def __init__(self, db: Database, max_bytes: int) -> None:
        self._db = db
        self.max_bytes = max_bytes
        self._n: dict[str, int] = {}  # media (jobs with media), bytes (of distinct contents)
        self._seq = 0
        self._blobs: OrderedDict[bytes, bytes] = OrderedDict()  # digest -> data, recent last
        self._blob_bytes = 0
        self._digests: OrderedDict[int, tuple[bytes, bytes]] = OrderedDict()  # id(data) -> ...

    def load(self) -> None:
        db = self._db
        self._n = {"media": db.one("SELECT count(*) FROM media")}
        self._n["bytes"] = db.one("SELECT sum(size) FROM blobs")
        self._seq = db.one("SELECT max(mseq) FROM media")
        self._blobs.clear()
        self._blob_bytes = 0

    def digest(self, data: bytes) -> bytes:
        """The content's digest, remembered for the last few buffers (one object: hashed once)."""
        known = self._digests.get(id(data))
        if known is not None and known[0] is data:
            return known[1]
        digest = hashlib.sha256(data).digest()
        self._digests[id(data)] = (data, digest)
        if len(self._digests) > 8:
            self._digests.popitem(last=False)
        return digest

    def put(self, step: Step, request_id: str, media: RenderedMedia) -> None:
        db, n = self._db, self._n
        digest = self.digest(media.data)
        self.drop(step, request_id)
        shared = db.execute("UPDATE blobs SET refs = refs + 1 WHERE digest = ?", (digest,))
        if not shared.rowcount:
            db.execute(
                "INSERT INTO blobs (digest, size, refs, data) VALUES (?, ?, 1, ?)",
                (digest, len(media.data), media.data),
            )
            bump(step, n, "bytes", len(media.data))
        self._seq += 1
        db.execute(
            "INSERT INTO media (request_id, mseq, digest, content_type, etag)"
            " VALUES (?, ?, ?, ?, ?)",
            (request_id, self._seq, digest, media.content_type, media.etag),
        )
        bump(step, n, "media", 1)
        self._cache(digest, media.data)
        while n.get("bytes", 0) > self.max_bytes and n.get("media", 0) > 1:
            (oldest,) = db.execute("SELECT request_id FROM media ORDER BY mseq LIMIT 1").fetchone()
            self.drop(step, oldest)

    def drop(self, step: Step, request_id: str) -> None:
        db = self._db
        row = db.execute("SELECT digest FROM media WHERE request_id = ?", (request_id,)).fetchone()
        if row is None:
            return
        digest = row[0]
        db.execute("DELETE FROM media WHERE request_id = ?", (request_id,))
        bump(step, self._n, "media", -1)
        size, refs = db.execute(
            "SELECT size, refs FROM blobs WHERE digest = ?", (digest,)
        ).fetchone()
        if refs > 1:
            db.execute("UPDATE blobs SET refs = refs - 1 WHERE digest = ?", (digest,))
            return
        db.execute("DELETE FROM blobs WHERE digest = ?", (digest,))
        bump(step, self._n, "bytes", -size)
        cached = self._blobs.pop(digest, None)
        if cached is not None:
            self._blob_bytes -= len(cached)

    def _cache(self, digest: bytes, data: bytes) -> None:
        blobs = self._blobs
        if digest in blobs:
            blobs.move_to_end(digest)
            return
        if len(data) > _CACHE_BYTES // 4:
            return
        blobs[digest] = data
        self._blob_bytes += len(data)
        while self._blob_bytes > _CACHE_BYTES:
            _, dropped = blobs.popitem(last=False)
            self._blob_bytes -= len(dropped)

    def get(self, request_id: str) -> RenderedMedia | None:
        row = self._db.execute(
            "SELECT digest, content_type, etag FROM media WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return None
        digest, content_type, etag = row
        data = self._blobs.get(digest)
        if data is None:
            found = self._db.execute(
                "SELECT data FROM blobs WHERE digest = ?", (digest,)
            ).fetchone()
            if found is None:
                return None
            data = bytes(found[0])
            self._cache(digest, data)
        return RenderedMedia(data=data, content_type=content_type, etag=etag)
