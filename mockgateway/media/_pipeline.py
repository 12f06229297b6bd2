"""The real media pipeline: fetch and validate a job's declared inputs, render the planned output
(video, image or audio) off the event loop, cache it.

Probing and rendering run in worker processes (:mod:`._pool`) shared by every pipeline in this
process: one for probes, so pricing a job never waits behind a render, and ``[media] workers``
for renders, so encoding never competes with the event loop for the GIL and numpy and PyAV never
load in the serving process. Identical renders (the same input digests and the same plan: kind,
format, resolution, aspect and length) are done once: finished ones sit in a bounded LRU cache
and a second request for one still rendering waits for the first.
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

from .._memo import Memo
from ._config import InputsConfig, MediaConfig, OutputMode, RenderExecutor
from ._fetch import Fetched, Fetcher
from ._limits import check_length
from ._plans import PlanError, RenderJob, check_plan, content_type, length_source
from ._pool import shared_pool
from ._probe import AudioInfo, ImageInfo
from ._samples import sample_bytes, sample_digest
from ._types import InputRef, InputRejected, JobInputs, MediaKind, OutputPlan, Probe, RenderedMedia

V = TypeVar("V")

_CacheKey = tuple[Any, ...]
_ProbeKey = tuple[tuple[str, MediaKind, str], ...]  # (field, kind, digest) per input
_AtOnceKey = tuple[tuple[InputRef, ...], OutputPlan]  # a job's inputs and output plan
PROBES_KEPT = 256  # successful probes remembered, by their inputs' digests
# Probes of inputs read without I/O (bundled samples) remembered by the inputs and plan: a job on
# the same URLs is then priced at once, with no fetch, hash or probe. Keys longer than this
# (their URLs' characters) are not kept, so the cache stays small in bytes.
AT_ONCE_KEPT = 256
AT_ONCE_KEY_CHARS = 4096
INLINE_HASH_BYTES = 256 * 1024  # inputs up to this size are hashed on the loop, not in a thread


@dataclass(frozen=True, slots=True)
class _Planned:
    """The probe's payload: the render job, its cache key and the output's content type."""

    job: RenderJob
    key: _CacheKey
    content_type: str


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
    """The default :class:`~mockgateway.media.MediaPipeline`: real inputs, a real output."""

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
        self._probed: OrderedDict[_ProbeKey, tuple[ImageInfo | AudioInfo, ...]] = OrderedDict()
        self._probing: dict[_ProbeKey, asyncio.Future[tuple[ImageInfo | AudioInfo, ...]]] = {}
        self._at_once: OrderedDict[_AtOnceKey, Probe] = OrderedDict()
        self._notes: Memo[tuple[InputRef, ...], tuple[str, ...]] = Memo(AT_ONCE_KEPT)
        self.probes = 0  # probes actually run (cache misses), for tests
        self.renders = 0  # renders actually run (cache misses), for tests and the admin view

    def input_notes(self, inputs: tuple[InputRef, ...]) -> tuple[str, ...]:
        """What the gateway journals on a generate request: the inputs that samples stand in for."""
        known = self._notes.get(inputs)
        if known is not None:
            return known
        notes = (self.fetcher.stand_in_note(ref.field, ref.url, ref.kind) for ref in inputs)
        found = tuple(n for n in notes if n)
        if sum(len(ref.url) for ref in inputs) <= AT_ONCE_KEY_CHARS:  # a function of the URLs
            self._notes.keep(inputs, found)
        return found

    async def _fetch(self, refs: tuple[InputRef, ...]) -> list[Fetched]:
        """Every input, the ones needing I/O read concurrently; failures in declared order."""
        found: list[Fetched | BaseException | None] = []
        for ref in refs:
            try:
                found.append(self.fetcher.fetch_at_once(ref.field, ref.url, ref.kind))
            except Exception as exc:
                found.append(exc)
        reads = [i for i, result in enumerate(found) if result is None]
        if reads:
            read = await asyncio.gather(
                *(self.fetcher.fetch(refs[i].field, refs[i].url, refs[i].kind) for i in reads),
                return_exceptions=True,
            )
            for i, got in zip(reads, read, strict=True):
                found[i] = got
        fetched: list[Fetched] = []
        for outcome in found:  # the first declared input's failure is the one reported
            if isinstance(outcome, BaseException):
                raise outcome
            assert isinstance(outcome, Fetched)
            fetched.append(outcome)
        return fetched

    def probe_at_once(self, inputs: JobInputs) -> Probe | None:
        """The probe of ``inputs`` when it is known without reading anything: inputs only
        bundled samples stand for (always the same bytes), probed before. None otherwise."""
        key = (inputs.inputs, inputs.output)
        known = self._at_once.get(key)
        if known is not None:
            self._at_once.move_to_end(key)
        return known

    def _keep_at_once(self, inputs: JobInputs, fetched: list[Fetched], probe: Probe) -> None:
        if not all(f.source.startswith("sample:") for f in fetched):
            return
        if sum(len(ref.url) for ref in inputs.inputs) > AT_ONCE_KEY_CHARS:
            return
        self._at_once[(inputs.inputs, inputs.output)] = probe
        while len(self._at_once) > AT_ONCE_KEPT:
            self._at_once.popitem(last=False)

    async def probe(self, inputs: JobInputs) -> Probe:
        known = self.probe_at_once(inputs)
        if known is not None:
            return known
        plan, refs = inputs.output, inputs.inputs
        try:
            check_plan(plan, refs)
            source = length_source(plan, refs)
            kind = content_type(plan)
        except PlanError as exc:
            raise InputRejected(str(exc)) from None
        fetched = await self._fetch(refs)
        digests = await _digests(*fetched)
        infos = await self._probe_once(
            tuple((ref.field, ref.kind, f.data) for ref, f in zip(refs, fetched, strict=True)),
            tuple((ref.field, ref.kind, d) for ref, d in zip(refs, digests, strict=True)),
        )
        seconds = plan.seconds
        if source is not None:
            info = infos[refs.index(source)]
            assert isinstance(info, AudioInfo)
            seconds = info.duration
            check_length(source.field, seconds, plan.resolution, plan.max_seconds, "audio")
        elif seconds is not None:
            check_length(
                plan.length_field,
                seconds,
                plan.resolution,
                plan.max_seconds,
                plan.kind,
                requested=True,
            )
        notes = tuple(f.note for f in fetched if f.note)
        probed = Probe(
            duration_seconds=seconds,
            resolution=plan.resolution,
            notes=notes,
            payload=self._planned(plan, refs, source, seconds, fetched, digests, kind),
        )
        self._keep_at_once(inputs, fetched, probed)
        return probed

    def _planned(
        self,
        plan: OutputPlan,
        refs: tuple[InputRef, ...],
        source: InputRef | None,
        seconds: float | None,
        fetched: list[Fetched],
        digests: list[str],
        kind: str,
    ) -> _Planned:
        """The render job for a probed plan and its cache key: the bytes (and digests) the
        output is drawn from, and everything in the plan that changes it."""
        image = audio = None
        image_hash = audio_hash = None
        if plan.kind is not MediaKind.AUDIO:
            at = next((i for i, ref in enumerate(refs) if ref.kind is MediaKind.IMAGE), None)
            if self.media.mode is OutputMode.SAMPLE:
                image, image_hash = sample_bytes("portrait.png"), sample_digest("portrait.png")
            elif at is not None:
                image, image_hash = fetched[at].data, digests[at]
        length = seconds
        if plan.kind is MediaKind.VIDEO:
            sound = source or next((ref for ref in refs if ref.kind is MediaKind.AUDIO), None)
            if sound is not None:
                at = refs.index(sound)
                audio, audio_hash = fetched[at].data, digests[at]
                if source is not None:
                    length = None  # the audio's own length
        job = RenderJob(
            kind=plan.kind,
            format=plan.format,
            resolution=plan.resolution,
            aspect_ratio=plan.aspect_ratio,
            seconds=length,
            image=image,
            audio=audio,
        )
        key = (plan.kind, plan.format, plan.resolution, plan.aspect_ratio, length)
        return _Planned(job, (image_hash, audio_hash, *key), kind)

    async def _probe_once(
        self, inputs: tuple[tuple[str, MediaKind, bytes], ...], digests: _ProbeKey
    ) -> tuple[ImageInfo | AudioInfo, ...]:
        """Decode-probe the inputs once: the same bytes again, or while their probe runs, get
        what it found (a rejection is not remembered, only shared with those waiting for it)."""
        if not inputs:
            return ()
        known = self._probed.get(digests)
        if known is not None:
            self._probed.move_to_end(digests)
            return known

        async def probe() -> tuple[ImageInfo | AudioInfo, ...]:
            infos: tuple[ImageInfo | AudioInfo, ...] = await self._run("probe", inputs)
            self.probes += 1
            self._probed[digests] = infos
            while len(self._probed) > PROBES_KEPT:
                self._probed.popitem(last=False)
            return infos

        return await _shared(self._probing, digests, probe)

    def rendered(self, probe: Probe) -> RenderedMedia | None:
        """The render of these inputs when it is already done and cached, else None: a job
        on inputs rendered before needs no render task of its own."""
        payload = probe.payload
        if not isinstance(payload, _Planned):
            return None
        cached = self._cache.get(payload.key)
        if cached is not None:
            self._cache.move_to_end(payload.key)
        return cached

    async def render(self, probe: Probe) -> RenderedMedia:
        payload = probe.payload
        if not isinstance(payload, _Planned):
            raise InputRejected("the inputs were not probed by this pipeline")
        cached = self.rendered(probe)
        if cached is not None:
            return cached
        key = payload.key

        async def render() -> RenderedMedia:
            data = await self._run("render", payload.job)
            self.renders += 1
            media = RenderedMedia.of(data, payload.content_type)
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
        self._at_once.clear()
        self._notes.clear()


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
