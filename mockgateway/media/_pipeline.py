"""The real media pipeline: fetch and validate inputs, render the MP4 off the event loop, cache it.

Probing and rendering run in worker processes (:mod:`._pool`) shared by every pipeline in this
process: one for probes, so pricing a job never waits behind a render, and ``[media] workers``
for renders, so encoding never competes with the event loop for the GIL and numpy and PyAV never
load in the serving process. Identical (image, audio, resolution) renders are done once: finished
ones sit in a bounded LRU cache and a second request for one still rendering waits for the first.
Probes are remembered the same way, by the inputs' content digests: jobs on the bundled samples
or on the same inputs decode them once, not once each (a probe costs milliseconds of CPU).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from ._config import InputsConfig, MediaConfig, OutputMode, RenderExecutor
from ._fetch import Fetched, Fetcher
from ._pool import shared_pool
from ._probe import AudioInfo, check_duration
from ._samples import sample_bytes, sample_digest
from ._types import InputRef, InputRejected, JobInputs, Probe, RenderedMedia

V = TypeVar("V")

_CacheKey = tuple[str, str, str]
PROBES_KEPT = 256  # successful probes remembered, by (image digest, audio digest)
INLINE_HASH_BYTES = 256 * 1024  # inputs up to this size are hashed on the loop, not in a thread


@dataclass(frozen=True, slots=True)
class _Inputs:
    """The probe's payload: validated input bytes and the render cache key."""

    image: bytes
    audio: bytes
    key: _CacheKey


_thread_pools: dict[int, Executor] = {}


def _thread_pool(workers: int) -> Executor:
    pool = _thread_pools.get(workers)
    if pool is None:
        pool = _thread_pools[workers] = ThreadPoolExecutor(
            workers, thread_name_prefix="mockgateway-render"
        )
    return pool


def _local_task(name: str) -> Callable[..., Any]:
    """A task run in this process's threads (``executor = "thread"``, or a given executor).

    Only this mode loads numpy and PyAV into the serving process, so only it imports them."""
    from ._work import TASKS

    return TASKS[name]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def _digests(*inputs: Fetched) -> list[str]:
    """The inputs' digests. A bundled sample's is known; hashing large inputs is worth keeping
    off the event loop, while for small ones the hop to a thread would cost more than the hash."""
    known = [_sample_digest(f) for f in inputs]
    unknown = [f.data for f, digest in zip(inputs, known, strict=True) if digest is None]
    if sum(len(data) for data in unknown) <= INLINE_HASH_BYTES:
        hashed = [_digest(data) for data in unknown]
    else:
        hashed = await asyncio.to_thread(lambda: [_digest(data) for data in unknown])
    found = iter(hashed)
    return [digest if digest is not None else next(found) for digest in known]


def _sample_digest(fetched: Fetched) -> str | None:
    name = fetched.source.removeprefix("sample:")
    return sample_digest(name) if name != fetched.source else None


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
        if executor is None and self.media.executor is RenderExecutor.THREAD:
            self._executor = _thread_pool(self.media.workers)
        self._cache: OrderedDict[_CacheKey, RenderedMedia] = OrderedDict()
        self._rendering: dict[_CacheKey, asyncio.Future[RenderedMedia]] = {}
        self._probed: OrderedDict[tuple[str, str], AudioInfo] = OrderedDict()
        self._probing: dict[tuple[str, str], asyncio.Future[AudioInfo]] = {}
        self.probes = 0  # probes actually run (cache misses), for tests
        self.renders = 0  # renders actually run (cache misses), for tests and the admin view

    def input_notes(self, inputs: tuple[InputRef, ...]) -> tuple[str, ...]:
        """What the gateway journals on a generate request: the inputs that samples stand in for."""
        notes = (self.fetcher.stand_in_note(i.field, i.url, i.kind.value) for i in inputs)
        return tuple(n for n in notes if n)

    async def _fetch(self, inputs: JobInputs) -> tuple[Fetched, Fetched]:
        """Both inputs, the ones needing I/O read concurrently; image_url's failure first."""
        wanted = tuple((i.field, i.url, i.kind.value) for i in inputs.inputs)
        found: list[Fetched | BaseException | None] = []
        for field, url, kind in wanted:
            try:
                found.append(self.fetcher.fetch_at_once(field, url, kind))
            except Exception as exc:
                found.append(exc)
        reads = [i for i, result in enumerate(found) if result is None]
        if reads:
            read = await asyncio.gather(
                *(self.fetcher.fetch(*wanted[i]) for i in reads), return_exceptions=True
            )
            for i, got in zip(reads, read, strict=True):
                found[i] = got
        for outcome in found:  # report image_url before audio_url
            if isinstance(outcome, BaseException):
                raise outcome
        image, audio = found
        assert isinstance(image, Fetched)
        assert isinstance(audio, Fetched)
        return image, audio

    async def probe(self, inputs: JobInputs) -> Probe:
        image, audio = await self._fetch(inputs)
        image_hash, audio_hash = await _digests(image, audio)
        picture, picture_hash = image.data, image_hash
        if self.media.mode is OutputMode.SAMPLE:
            picture, picture_hash = sample_bytes("portrait.png"), sample_digest("portrait.png")
        info = await self._probe_once(image.data, audio.data, (image_hash, audio_hash))
        resolution = inputs.output.resolution or "1080p"
        check_duration("audio_url", info.duration, resolution)
        notes = tuple(n for n in (image.note, audio.note) if n)
        key = (picture_hash, audio_hash, resolution)
        return Probe(
            duration_seconds=info.duration,
            resolution=resolution,
            notes=notes,
            payload=_Inputs(picture, audio.data, key),
        )

    async def _probe_once(self, image: bytes, audio: bytes, digests: tuple[str, str]) -> AudioInfo:
        """Decode-probe the inputs once: the same bytes again, or while their probe runs, get
        what it found (a rejection is not remembered, only shared with those waiting for it)."""
        known = self._probed.get(digests)
        if known is not None:
            self._probed.move_to_end(digests)
            return known

        async def probe() -> AudioInfo:
            info: AudioInfo = await self._run("probe", image, audio)
            self.probes += 1
            self._probed[digests] = info
            while len(self._probed) > PROBES_KEPT:
                self._probed.popitem(last=False)
            return info

        return await _shared(self._probing, digests, probe)

    def rendered(self, probe: Probe) -> RenderedMedia | None:
        """The render of these inputs when it is already done and cached, else None: a job
        on inputs rendered before needs no render task of its own."""
        payload = probe.payload
        if not isinstance(payload, _Inputs):
            return None
        cached = self._cache.get(payload.key)
        if cached is not None:
            self._cache.move_to_end(payload.key)
        return cached

    async def render(self, probe: Probe) -> RenderedMedia:
        payload = probe.payload
        if not isinstance(payload, _Inputs):
            raise InputRejected("the inputs were not probed by this pipeline")
        cached = self.rendered(probe)
        if cached is not None:
            return cached
        key = payload.key

        async def render() -> RenderedMedia:
            data = await self._run("render", payload.image, payload.audio, probe.resolution)
            self.renders += 1
            media = RenderedMedia.of(data)
            self._remember(key, media)
            return media

        return await _shared(self._rendering, key, render)

    async def _run(self, task: str, *args: Any) -> Any:
        """Run a task of :mod:`._work` where this pipeline's work goes; probes never wait
        behind a render."""
        if self._executor is not None:
            if task == "probe":  # short, and the codecs release the GIL
                return await asyncio.to_thread(_local_task(task), *args)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, _local_task(task), *args)
        if task == "probe":
            return await shared_pool("probe", 1).call(task, *args)
        return await shared_pool("render", self.media.workers).call(task, *args)

    def warm(self) -> None:
        """Start the worker processes now, in the background, so the first job need not wait."""
        if self._executor is None:
            shared_pool("probe", 1).warm()
            shared_pool("render", self.media.workers).warm()

    def _remember(self, key: _CacheKey, media: RenderedMedia) -> None:
        if self.media.cache_entries <= 0:
            return
        self._cache[key] = media
        while len(self._cache) > self.media.cache_entries:
            self._cache.popitem(last=False)

    async def close(self) -> None:
        await self.fetcher.close()
        self._cache.clear()
        self._probed.clear()


async def _shared(
    running: dict[Any, asyncio.Future[V]], key: Any, work: Callable[[], Awaitable[V]]
) -> V:
    """``work()``, run once for ``key`` at a time: callers asking while it runs get what it gives
    (or its error, which is not kept for later callers)."""
    pending = running.get(key)
    if pending is not None:
        return await asyncio.shield(pending)
    future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
    running[key] = future
    try:
        value = await work()
        future.set_result(value)
        return value
    except BaseException as exc:
        future.set_exception(exc)
        future.exception()  # mark retrieved: waiters, if any, see it themselves
        raise
    finally:
        del running[key]
