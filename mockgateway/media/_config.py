"""Settings for fetching inputs and producing media, and their TOML sections.

``[inputs]`` decides which hosts a job's ``image_url`` and ``audio_url`` may reach; ``[media]``
how the output is made and served. The readers take the core's TOML table reader so errors name
the key and the file like every other section.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .._reader import Reader


class InputPolicy(StrEnum):
    """What happens to an input URL on a host that is not loopback or allowed."""

    OFFLINE = "offline"  # never contacted; the bundled sample of that kind stands in (noted)
    STRICT = "strict"  # the job fails, naming the field and the host
    ONLINE = "online"  # fetched for real from public addresses, within the size and time limits


class RenderExecutor(StrEnum):
    PROCESS = "process"  # a worker process pool: encoding never holds the event loop's GIL
    THREAD = "thread"  # a thread pool: no process start-up, codecs release the GIL


class OutputMode(StrEnum):
    RENDER = "render"  # the input image animated by the input audio
    SAMPLE = "sample"  # the bundled portrait animated by the input audio: skips image scaling


@dataclass(frozen=True, slots=True, kw_only=True)
class InputsConfig:
    policy: InputPolicy = InputPolicy.OFFLINE
    max_bytes: int = 20 * 1024 * 1024
    timeout_seconds: float = 10.0
    max_redirects: int = 5
    max_connections: int = 64  # fetches at once; more wait for a slot, untimed
    allow_hosts: tuple[str, ...] = ()  # fetched for real under every policy
    file_dir: Path | None = None  # file: URLs are refused unless they point inside this directory


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaConfig:
    mode: OutputMode = OutputMode.RENDER
    cache_entries: int = 32
    link_ttl_seconds: float | None = None  # media links answer 403 this long after completion
    executor: RenderExecutor = RenderExecutor.PROCESS
    workers: int = 1  # renders at once; x264 already uses both cores for one


def read_inputs_config(reader: Reader) -> InputsConfig:
    """The ``[inputs]`` table."""
    hosts = reader.get("allow_hosts", list, [])
    if not all(isinstance(h, str) and h for h in hosts):
        raise reader.error("allow_hosts", "expected an array of host names")
    file_dir = reader.get("file_dir", str, "")
    config = InputsConfig(
        policy=reader.choice("policy", InputPolicy, InputPolicy.OFFLINE),
        max_bytes=reader.integer("max_bytes", 20 * 1024 * 1024, minimum=1),
        timeout_seconds=reader.number("timeout_seconds", 10.0, minimum=0.001),
        max_redirects=reader.integer("max_redirects", 5),
        max_connections=reader.integer("max_connections", 64, minimum=1),
        allow_hosts=tuple(h.lower() for h in hosts),
        file_dir=Path(file_dir).resolve() if file_dir else None,
    )
    reader.finish()
    return config


def read_media_config(reader: Reader) -> MediaConfig:
    """The ``[media]`` table; ``link_ttl_seconds = 0`` (the default) means links never expire."""
    ttl = reader.number("link_ttl_seconds", 0.0)
    config = MediaConfig(
        mode=reader.choice("mode", OutputMode, OutputMode.RENDER),
        cache_entries=reader.integer("cache_entries", 32),
        link_ttl_seconds=ttl or None,
        executor=reader.choice("executor", RenderExecutor, RenderExecutor.PROCESS),
        workers=reader.integer("workers", 1, minimum=1),
    )
    reader.finish()
    return config
