"""The bundled sample inputs: found in a repository checkout and in an installed wheel alike.

A checkout keeps them in ``fixtures/`` next to the package; the wheel carries the same directory as
``mockgateway/_fixtures``. They are served at ``/_mock/samples/<name>`` and stand in for inputs on
hosts the input policy does not contact.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
from pathlib import Path

SAMPLE_ROUTE = "/_mock/samples/"

SAMPLES: dict[str, str] = {
    "portrait.png": "image/png",
    "portrait.jpg": "image/jpeg",
    "portrait.webp": "image/webp",
    "speech.mp3": "audio/mpeg",
    "speech.wav": "audio/wav",
}

_PACKAGE = Path(__file__).resolve().parent.parent


def find_samples(package: Path) -> Path:
    """Where the samples are for a package directory: its ``_fixtures`` (a wheel) or the
    checkout's ``fixtures`` next to it."""
    for candidate in (package / "_fixtures", package.parent / "fixtures"):
        if (candidate / "portrait.png").is_file():
            return candidate
    raise FileNotFoundError(
        "bundled samples not found: run `python fixtures/generate.py` in a checkout"
    )


@functools.cache
def samples_dir() -> Path:
    """The directory holding this installation's samples."""
    return find_samples(_PACKAGE)


@functools.cache
def sample_bytes(name: str) -> bytes:
    """The bytes of one bundled sample; ``KeyError`` for a name that is not one."""
    if name not in SAMPLES:
        raise KeyError(name)
    return (samples_dir() / name).read_bytes()


@functools.cache
def sample_digest(name: str) -> str:
    """The SHA-256 of one bundled sample, hashed once per process."""
    return hashlib.sha256(sample_bytes(name)).hexdigest()


def stand_in(kind: str, url_path: str) -> str:
    """The sample that stands in for an input of ``kind`` ("image" or "audio").

    The URL's extension picks among samples of that kind, so ``input.wav`` gets a WAV.
    """
    ext = posixpath.splitext(url_path.lower())[1]
    if kind == "audio":
        return "speech.wav" if ext == ".wav" else "speech.mp3"
    return {".jpg": "portrait.jpg", ".jpeg": "portrait.jpg", ".webp": "portrait.webp"}.get(
        ext, "portrait.png"
    )


def sample_name_from_path(path: str) -> str | None:
    """``portrait.png`` for ``/_mock/samples/portrait.png``; None for any other path."""
    if not path.startswith(SAMPLE_ROUTE):
        return None
    name = path[len(SAMPLE_ROUTE) :]
    return name if name in SAMPLES else None
