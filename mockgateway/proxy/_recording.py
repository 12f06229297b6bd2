"""``--record run.har``: every exchange of the run, written as it happens, whatever its length.

The journal keeps only its newest entries (``[journal] max_entries``), so the recording does not
come from it: each entry is appended, as one HAR entry a line, to a spool file beside the
recording (``run.har.part``) as soon as the exchange is over, and at the end the HAR document is
written from the spool a line at a time, then the spool removed. Memory stays bounded however
long the run. An entry that cannot be written (a full disk) is counted, said on stderr once, and
named in the HAR's comment and ``log._dropped``: the recording is never short without saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TextIO

from .._har import har_entry, to_har
from .._journal import JournalEntry
from ._tracked import TrackedJob


class Recording:
    def __init__(self, path: Path, log: TextIO) -> None:
        self.path = path
        self.spool_path = path.with_name(path.name + ".part")
        self.log = log
        self.written = 0
        self.dropped = 0
        self._spool: IO[str] | None = None
        self._failed = False

    def add(self, entry: JournalEntry) -> None:
        """Append one exchange to the spool (flushed, so a crash loses at most the last)."""
        if self._failed:
            self.dropped += 1
            return
        try:
            if self._spool is None:  # opened on the first exchange: a proxy that never
                self._spool = self.spool_path.open("w", encoding="utf-8")  # listened leaves none
            self._spool.write(json.dumps(har_entry(entry)) + "\n")
            self._spool.flush()
            self.written += 1
        except OSError as exc:
            self.dropped += 1
            print(
                f"mockgateway proxy: --record {self.path}: cannot write ({exc}); exchanges from "
                "here on are missing from the recording",
                file=self.log,
                flush=True,
            )
            self._failed = True
            self._close_spool()

    def _close_spool(self) -> None:
        if self._spool is not None:
            with contextlib.suppress(OSError):
                self._spool.close()
            self._spool = None

    def finish(self, jobs: Iterable[TrackedJob], upstream: str) -> None:
        """Write the HAR document from the spool, with the jobs' transitions in ``log._jobs``."""
        self._close_spool()
        log = to_har([])["log"]
        comment = f"mockgateway proxy to {upstream}; times are the proxy's clock"
        if self.dropped:
            comment += f"; INCOMPLETE: {self.dropped} exchange(s) could not be written"
            print(
                f"mockgateway proxy: --record {self.path}: {self.dropped} exchange(s) are "
                "missing from the recording",
                file=self.log,
                flush=True,
            )
        head = {k: v for k, v in log.items() if k not in ("entries", "comment")}
        with self.path.open("w", encoding="utf-8") as out:
            out.write('{"log": {')
            for name, value in head.items():
                out.write(f"{json.dumps(name)}: {json.dumps(value)}, ")
            out.write('"entries": [\n')
            first = True
            with (
                contextlib.suppress(FileNotFoundError),
                self.spool_path.open(encoding="utf-8") as spool,
            ):
                for line in spool:
                    if not line.endswith("\n"):
                        continue  # a line cut short by the failed write
                    out.write(("" if first else ",\n") + line.rstrip("\n"))
                    first = False
            out.write("\n],\n")
            out.write(f'"comment": {json.dumps(comment)},\n')
            out.write(f'"_upstream": {json.dumps(upstream)},\n')
            out.write(f'"_dropped": {self.dropped},\n')
            out.write('"_jobs": [')
            out.write(",\n".join(json.dumps(job.to_dict()) for job in jobs))
            out.write("]}}\n")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.spool_path)
