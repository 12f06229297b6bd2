"""Running an asynchronous server in a daemon thread of its own, for synchronous callers: the
gateway (:func:`mockgateway.serve_in_thread`) and the checking proxy share it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def in_thread(
    open_: Callable[[], AbstractAsyncContextManager[T]], name: str
) -> Iterator[tuple[T, asyncio.AbstractEventLoop]]:
    """Enter ``open_()`` on a new event loop in a daemon thread and hand out what it gave and
    that loop for the block; leaving the block exits it there. An error on entering is raised
    here."""
    ready = threading.Event()
    holder: dict[str, Any] = {}
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        try:
            async with open_() as value:
                holder["value"] = value
                ready.set()
                await stop.wait()
        except BaseException as exc:
            holder["error"] = exc
            ready.set()

    thread = threading.Thread(
        target=loop.run_until_complete, args=(main(),), daemon=True, name=name
    )
    thread.start()
    ready.wait()
    if "error" in holder:
        thread.join()
        loop.close()
        raise holder["error"]
    try:
        yield holder["value"], loop
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()
