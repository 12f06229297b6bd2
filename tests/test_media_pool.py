"""The render worker pool when a worker cannot be started (out of descriptors or processes)."""

from __future__ import annotations

import errno
import threading

import pytest

from mockgateway.media import _pool
from mockgateway.media._pool import WorkerCrashed, WorkerPool


def test_a_worker_that_cannot_start_fails_the_call_not_the_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def out_of_descriptors() -> None:
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(_pool, "_start_process", out_of_descriptors)
    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    pool = WorkerPool(2)
    try:
        pool.warm()  # in the background: nothing may escape its threads
        for thread in threading.enumerate():
            if thread.name == "mockgateway-warm":
                thread.join(10)
        with pytest.raises(WorkerCrashed, match="could not start a render worker"):
            pool.call_blocking("warm")
        assert pool.pids == []  # nothing half-made is kept as a worker
    finally:
        pool.close()
    assert escaped == []
