"""Render worker processes, seen from the serving process.

Each worker is ``python -m mockgateway.media._worker``, spoken to over its stdin and stdout (see
:mod:`._frames`). Starting our own module, rather than multiprocessing's spawn, keeps numpy and
PyAV out of the serving process, never re-runs the user's ``__main__``, and ties the worker's life
to its parent's: it exits on EOF of stdin, so a parent killed even by SIGKILL leaves no worker.

A call blocks a daemon thread (never one the interpreter waits for at exit) on the worker's
answer; the awaiting coroutine gets the result through its loop, so one pool serves gateways on
any number of event loops.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import queue
import site
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ._frames import read_frame, write_frame
from ._types import InputRejected

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class WorkerCrashed(RuntimeError):
    """A worker process died before answering; the next call starts a fresh one."""


class WorkerError(RuntimeError):
    """A task raised in the worker (a bug or a broken codec); the text says what it was."""


def _worker_env() -> dict[str, str]:
    """This environment, with the directory this package was imported from on PYTHONPATH
    unless it is an installed site directory (which must not jump ahead of the standard
    library): a checkout run in place is found by its workers too."""
    env = dict(os.environ)
    installed = {*site.getsitepackages(), site.getusersitepackages()}
    if _PACKAGE_ROOT not in {str(Path(p).resolve()) for p in installed}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _start_process() -> subprocess.Popen[bytes]:
    env = _worker_env()
    # -P: the working directory is not put on sys.path, so nothing there shadows a module.
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "mockgateway.media._worker", str(os.getpid())],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )


class _Spawner:
    """Starts worker processes from one thread that lives as long as the process.

    Linux's parent-death signal fires when the *thread* that forked the child ends, so workers
    must not be started from the short-lived threads that run calls."""

    def __init__(self) -> None:
        self._requests: queue.SimpleQueue[Future[subprocess.Popen[bytes]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> subprocess.Popen[bytes]:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, daemon=True, name="mockgateway-spawner"
                )
                self._thread.start()
        request: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put(request)
        return request.result()

    def _serve(self) -> None:
        while True:
            request = self._requests.get()
            try:
                request.set_result(_start_process())
            except BaseException as exc:
                request.set_exception(exc)


_spawner = _Spawner()


class _Worker:
    """One worker process and its pipes; one call at a time."""

    def __init__(self) -> None:
        try:
            self.process = _spawner.start()
        except OSError as exc:  # out of descriptors or processes: this job fails, not the pool
            raise WorkerCrashed(f"could not start a render worker: {exc}") from None

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, task: str, args: tuple[Any, ...]) -> Any:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None
        assert stdout is not None
        try:
            write_frame(stdin, (task, args))
            answer = read_frame(stdout)
        except (BrokenPipeError, OSError, ValueError):
            answer = None
        if answer is None:
            raise WorkerCrashed(f"the render worker (pid {self.pid}) exited")
        kind, value = answer
        if kind == "ok":
            return value
        if kind == "rejected":
            raise InputRejected(value)
        raise WorkerError(value)

    def stop(self) -> None:
        """Close its stdin (it exits at once when idle) and make sure it is gone."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class WorkerPool:
    """Up to ``size`` worker processes, started on first need (or by :meth:`warm`)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: list[_Worker] = []
        self._closed = False

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [w.pid for w in self._all]

    def _take(self) -> _Worker:
        with self._lock:
            while not self._idle and len(self._all) >= self.size and not self._closed:
                self._lock.wait()
            if self._closed:
                raise WorkerCrashed("the render workers were shut down")
            if self._idle:
                return self._idle.pop()
            worker = _Worker()
            self._all.append(worker)
            return worker

    def _give_back(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._closed:
                self._idle.append(worker)
            elif worker in self._all:
                self._all.remove(worker)
            self._lock.notify()
        if not healthy:
            worker.stop()

    def call_blocking(self, task: str, *args: Any) -> Any:
        worker = self._take()
        healthy = False
        try:
            result = worker.call(task, args)
            healthy = True
            return result
        except (InputRejected, WorkerError):
            healthy = True
            raise
        finally:
            self._give_back(worker, healthy)

    async def call(self, task: str, *args: Any) -> Any:
        """Run ``task`` in a worker; InputRejected, WorkerError and WorkerCrashed pass through."""
        return await _in_daemon_thread(lambda: self.call_blocking(task, *args))

    def warm(self) -> None:
        """Start every worker now, in the background, so the first job does not wait for one."""
        for _ in range(self.size):
            threading.Thread(target=self._warm_one, daemon=True, name="mockgateway-warm").start()

    def _warm_one(self) -> None:
        with contextlib.suppress(WorkerCrashed, WorkerError):  # the job that needs it says so
            self.call_blocking("warm")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all, self._idle = self._all, [], []
            self._lock.notify_all()
        for worker in workers:
            worker.stop()


async def _in_daemon_thread(fn: Callable[[], Any]) -> Any:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def run() -> None:
        try:
            result = fn()
        except BaseException as exc:
            outcome = (False, exc)
        else:
            outcome = (True, result)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(deliver, *outcome)

    threading.Thread(target=run, daemon=True, name="mockgateway-render").start()
    return await future


_pools: dict[tuple[str, int], WorkerPool] = {}
_pools_lock = threading.Lock()


def shared_pool(kind: str, size: int) -> WorkerPool:
    """One pool per (kind, size) for the whole process, stopped at exit."""
    with _pools_lock:
        pool = _pools.get((kind, size))
        if pool is None:
            pool = _pools[(kind, size)] = WorkerPool(size)
        return pool


@atexit.register
def _stop_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
