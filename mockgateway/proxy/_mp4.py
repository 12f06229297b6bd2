"""The length of an MP4, read from its ``moov/mvhd`` box as the bytes stream past. Pure.

The proxy learns what a job is billed (its output's length) without keeping the video: each
chunk is fed as it goes through, top-level boxes other than ``moov`` are skipped by their size,
and ``moov`` (at most :data:`MAX_MOOV` bytes) is parsed once whole.
"""

from __future__ import annotations

import struct

MAX_MOOV = 16 * 1024 * 1024


class Mp4Duration:
    def __init__(self) -> None:
        self.duration: float | None = None
        self.failed = False
        self._buffer = bytearray()
        self._skip = 0
        self._moov: int | None = None  # bytes of moov still to collect (header included)

    @property
    def done(self) -> bool:
        return self.duration is not None or self.failed

    def feed(self, chunk: bytes) -> None:
        if self.done:
            return
        view = memoryview(chunk)
        if self._skip:
            step = min(self._skip, len(view))
            self._skip -= step
            view = view[step:]
        self._buffer += view
        while not self.done:
            if self._moov is not None:
                if len(self._buffer) < self._moov:
                    return
                self.duration = _mvhd(bytes(self._buffer[: self._moov]))
                self.failed = self.duration is None
                return
            if len(self._buffer) < 16:
                return
            size, kind = struct.unpack(">I4s", self._buffer[:8])
            header = 8
            if size == 1:
                size = struct.unpack(">Q", self._buffer[8:16])[0]
                header = 16
            if size < header:  # 0 (to the end) before moov, or nonsense: no length to find
                self.failed = True
                return
            if kind == b"moov":
                if size > MAX_MOOV:
                    self.failed = True
                    return
                self._moov = size
                continue
            if len(self._buffer) >= size:
                del self._buffer[:size]
            else:
                self._skip = size - len(self._buffer)
                self._buffer.clear()
                return


def _mvhd(moov: bytes) -> float | None:
    offset = 8
    while offset + 8 <= len(moov):
        size, kind = struct.unpack(">I4s", moov[offset : offset + 8])
        if size < 8:
            return None
        if kind == b"mvhd":
            body = moov[offset + 8 : offset + size]
            if not body:
                return None
            if body[0] == 1 and len(body) >= 32:
                scale, length = struct.unpack(">IQ", body[20:32])
            elif len(body) >= 20:
                scale, length = struct.unpack(">II", body[12:20])
            else:
                return None
            return length / scale if scale else None
        offset += size
    return None
