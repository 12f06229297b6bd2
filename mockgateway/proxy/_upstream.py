"""The proxy's connections to the upstream gateway, and nowhere else.

One session whose outbound policy admits the upstream's host (and loopback, as every policy
does); every URL is checked to be on the upstream's origin before it is fetched, so an answer
naming another host (a CDN, a metadata address) never makes the proxy connect there.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

from .._netpolicy import OutboundPolicy
from .._outbound import guarded_session, read_prefix
from ._mp4 import Mp4Duration

MAX_ANSWER_BYTES = 1024 * 1024  # a JSON answer of the upstream read at most this far
MAX_MEDIA_SCAN = 512 * 1024 * 1024  # bytes of an output read to find its length
CHUNK = 64 * 1024


class Upstream:
    def __init__(self, base: str, *, timeout: float = 60.0) -> None:
        self.base = base.rstrip("/")
        self.origin = str(URL(self.base).origin())
        # the base as it may be printed or stored: without a user or password in it
        self.shown = str(URL(self.base).with_user(None)).rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        policy = OutboundPolicy.from_list([URL(self.base).host or ""], setting="--upstream")
        self._session = guarded_session(policy)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "Upstream.start() first"
        return self._session

    def on_origin(self, url: str) -> bool:
        """Whether ``url`` is on the upstream's origin (the only one the proxy fetches from)."""
        try:
            target = URL(url)
        except ValueError:
            return False
        return target.is_absolute() and str(target.origin()) == self.origin

    async def exchange(
        self, method: str, path_qs: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        """One request with a JSON-sized answer, read to one byte past :data:`MAX_ANSWER_BYTES`
        (so that the caller can tell one that is too large)."""
        async with self.session.request(
            method, self.base + path_qs, data=body, headers=headers, allow_redirects=False,
            timeout=self.timeout,
        ) as response:  # fmt: skip
            raw = await read_prefix(response.content, MAX_ANSWER_BYTES + 1)
            return response.status, dict(response.headers), raw

    @contextlib.asynccontextmanager
    async def stream(
        self, method: str, path_qs: str, headers: dict[str, str]
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A request whose answer the caller reads as it comes (media)."""
        async with self.session.request(
            method, self.base + path_qs, headers=headers, allow_redirects=False,
            timeout=self.timeout,
        ) as response:  # fmt: skip
            yield response

    async def output_seconds(self, url: str) -> float | None:
        """The length of the MP4 at ``url`` (on the upstream's origin), read from its ``mvhd``;
        None when it cannot be read."""
        if not self.on_origin(url):
            return None
        scanner = Mp4Duration()
        read = 0
        try:
            async with self.session.get(
                url, allow_redirects=False, timeout=self.timeout,
                headers={"Accept-Encoding": "identity"},
            ) as response:  # fmt: skip
                if response.status != 200:
                    return None
                async for chunk in response.content.iter_chunked(CHUNK):
                    scanner.feed(chunk)
                    read += len(chunk)
                    if scanner.done or read > MAX_MEDIA_SCAN:
                        break
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
        return scanner.duration
