"""Helpers for the media tests: inputs of any shape, other formats, a loopback file server."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from fractions import Fraction
from typing import Any

import av
import numpy as np
from aiohttp import web

from mockgateway.media import _synth


def tone(seconds: float, rate: int = 8000, amplitude: float = 0.5) -> np.ndarray[Any, Any]:
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def wav(seconds: float, rate: int = 8000, amplitude: float = 0.5) -> bytes:
    return _synth.encode_audio(tone(seconds, rate, amplitude), rate, "wav")


def mp3(seconds: float, rate: int = 16000) -> bytes:
    return _synth.encode_audio(_synth.speech(seconds, rate), rate, "mp3")


def png(width: int, height: int) -> bytes:
    return _synth.encode_image(_synth.portrait(width, height), "png")


def encode_other_image(codec: str, width: int = 64, height: int = 48) -> bytes:
    """A picture in a format we do not accept (gif, bmp, tiff), in its own container."""
    out = io.BytesIO()
    fmt = {"gif": "gif", "bmp": "image2pipe", "tiff": "image2pipe"}[codec]
    pix = {"gif": "rgb8", "bmp": "bgr24", "tiff": "rgb24"}[codec]
    with av.open(out, mode="w", format=fmt) as container:
        stream = container.add_stream(codec, rate=1)
        stream.width, stream.height, stream.pix_fmt = width, height, pix
        frame = av.VideoFrame.from_ndarray(
            np.full((height, width, 3), 128, dtype=np.uint8), format="rgb24"
        ).reformat(format=pix)
        frame.pts, frame.time_base = 0, Fraction(1, 1)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def flac(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    samples = (tone(seconds, rate) * 32767).astype(np.int16)
    with av.open(out, mode="w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def file_server(
    files: dict[str, bytes], extra: dict[str, Handler] | None = None
) -> AsyncIterator[str]:
    """Serve ``files`` (path -> bytes) and ``extra`` handlers on 127.0.0.1; yields the base URL.

    Every request's path is appended to the list at ``app["hits"]``, reachable through
    :func:`hits`, so tests can show what the gateway did or did not fetch.
    """
    log: list[str] = []

    async def serve(request: web.Request) -> web.StreamResponse:
        log.append(request.path)
        handler = (extra or {}).get(request.path)
        if handler is not None:
            return await handler(request)
        data = files.get(request.path)
        if data is None:
            return web.Response(status=404, text="no such file")
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    _HITS[f"http://127.0.0.1:{port}"] = log
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


_HITS: dict[str, list[str]] = {}


def hits(base_url: str) -> list[str]:
    return _HITS[base_url]


async def never_answer(request: web.Request) -> web.StreamResponse:
    """A handler that keeps the connection open without answering, until the client gives up."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def closed_port_url() -> str:
    """A loopback URL on a port nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/missing.png"
