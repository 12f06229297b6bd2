"""The real media pipeline: fetch and validate inputs, render the MP4 off the event loop, cache it.

Probing decodes in a thread (short, releases the GIL in the codecs); rendering runs in a worker
process pool shared by every pipeline in this process, so encoding never competes with the event
loop for the GIL. Identical (image, audio, resolution) renders are done once: finished ones sit in
a bounded LRU cache and a second request for one still rendering waits for the first.
"""

from __future__ import annotations

import asyncio
import atexit
import hashlib
import multiprocessing
from collections import OrderedDict
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from ._config import InputsConfig, MediaConfig, OutputMode
from ._fetch import Fetched, Fetcher
from ._probe import check_duration, probe_audio, probe_image
from ._render import render_mp4
from ._samples import sample_bytes
from ._types import InputRejected, JobInputs, Probe, RenderedMedia

_CacheKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The probe's payload: validated input bytes and the render cache key."""

    image: bytes
    audio: bytes
    key: _CacheKey


_pools: dict[tuple[str, int], Executor] = {}


def shared_executor(kind: str, workers: int) -> Executor:
    """One render pool per (kind, size) for the whole process, shut down at exit."""
    pool = _pools.get((kind, workers))
    if pool is None:
        if kind == "thread":
            pool = ThreadPoolExecutor(workers, thread_name_prefix="mockgateway-render")
        else:
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        _pools[(kind, workers)] = pool
    return pool


def _forget(pool: Executor) -> None:
    for key, known in list(_pools.items()):
        if known is pool:
            del _pools[key]
            pool.shutdown(wait=False, cancel_futures=True)


@atexit.register
def _shutdown_pools() -> None:
    for pool in _pools.values():
        pool.shutdown(wait=False, cancel_futures=True)
    _pools.clear()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class AvPipeline:
    """The default :class:`~mockgateway.media.MediaPipeline`: real inputs, a real MP4."""

    def __init__(
        self,
        inputs: InputsConfig | None = None,
        media: MediaConfig | None = None,
        *,
        executor: Executor | None = None,
        own_hosts: tuple[str, ...] = (),
    ) -> None:
        self.inputs = inputs or InputsConfig()
        self.media = media or MediaConfig()
        self.fetcher = Fetcher(self.inputs, own_hosts)
        self._executor = executor
        self._cache: OrderedDict[_CacheKey, RenderedMedia] = OrderedDict()
        self._rendering: dict[_CacheKey, asyncio.Future[RenderedMedia]] = {}
        self.renders = 0  # renders actually run (cache misses), for tests and the admin view

    def input_notes(self, image_url: str, audio_url: str) -> tuple[str, ...]:
        """What the gateway journals on a generate request: the inputs that samples stand in for."""
        notes = (
            self.fetcher.stand_in_note("image_url", image_url, "image"),
            self.fetcher.stand_in_note("audio_url", audio_url, "audio"),
        )
        return tuple(n for n in notes if n)

    async def probe(self, inputs: JobInputs) -> Probe:
        results = await asyncio.gather(
            self.fetcher.fetch("image_url", inputs.image_url, "image"),
            self.fetcher.fetch("audio_url", inputs.audio_url, "audio"),
            return_exceptions=True,
        )
        for result in results:  # report image_url before audio_url
            if isinstance(result, BaseException):
                raise result
        image, audio = results
        assert isinstance(image, Fetched)
        assert isinstance(audio, Fetched)
        await asyncio.to_thread(probe_image, "image_url", image.data)
        info = await asyncio.to_thread(probe_audio, "audio_url", audio.data)
        check_duration("audio_url", info.duration, inputs.resolution)
        notes = tuple(n for n in (image.note, audio.note) if n)
        picture = image.data
        if self.media.mode is OutputMode.SAMPLE:
            picture = sample_bytes("portrait.png")
        # hashing up to inputs.max_bytes of input is worth keeping off the event loop too
        image_hash, audio_hash = await asyncio.to_thread(
            lambda: (_digest(picture), _digest(audio.data))
        )
        key = (image_hash, audio_hash, inputs.resolution)
        return Probe(
            duration_seconds=info.duration,
            resolution=inputs.resolution,
            notes=notes,
            payload=_Inputs(picture, audio.data, key),
        )

    async def render(self, probe: Probe) -> RenderedMedia:
        payload = probe.payload
        if not isinstance(payload, _Inputs):
            raise InputRejected("the inputs were not probed by this pipeline")
        key = payload.key
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached
        running = self._rendering.get(key)
        if running is not None:
            return await asyncio.shield(running)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[RenderedMedia] = loop.create_future()
        self._rendering[key] = future
        try:
            executor = self._executor or shared_executor(
                self.media.executor.value, self.media.workers
            )
            try:
                data = await loop.run_in_executor(
                    executor, render_mp4, payload.image, payload.audio, probe.resolution
                )
            except BrokenExecutor:
                _forget(executor)  # a crashed worker: the next render gets a fresh pool
                raise
            self.renders += 1
            media = RenderedMedia.of(data)
            self._remember(key, media)
            future.set_result(media)
            return media
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters, if any, see it themselves
            raise
        finally:
            del self._rendering[key]

    def _remember(self, key: _CacheKey, media: RenderedMedia) -> None:
        if self.media.cache_entries <= 0:
            return
        self._cache[key] = media
        while len(self._cache) > self.media.cache_entries:
            self._cache.popitem(last=False)

    async def close(self) -> None:
        await self.fetcher.close()
        self._cache.clear()
