"""Fetch a job's input URLs under the input policy, with size, time and redirect limits.

Which URL is read how:

* ``data:`` URLs are decoded in place; ``file:`` URLs only inside ``inputs.file_dir``.
* ``/_mock/samples/<name>`` on a loopback address, ``localhost`` or the gateway's own configured
  base URL is read from the package.
* Other ``http(s)`` URLs go through the outbound policy (:mod:`mockgateway._netpolicy`): loopback
  addresses, hosts in ``inputs.allow_hosts`` and, under ``online``, public addresses, decided on
  the address actually connected to. A host the policy can never reach is, under ``offline``, not
  contacted and the bundled sample of that kind stands in (with a note saying so); under
  ``strict`` and ``online`` the job fails naming the field and why.

Redirects are followed by hand, every hop through the same guarded connector. At most
``inputs.max_connections`` fetches run at once; ``inputs.timeout_seconds`` times each fetch from
the moment it has its slot, not the wait for one.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

import aiohttp
from yarl import URL

from .._memo import Memo
from .._netpolicy import (
    OutboundPolicy,
    OutboundRefused,
    is_loopback_address,
    may_look_up,
    normalise_host,
    parse_address,
    refusal,
)
from .._outbound import guarded_session, refusal_of
from ._config import InputPolicy, InputsConfig
from ._samples import sample_bytes, sample_name_from_path, stand_in
from ._types import InputRejected

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class Fetched:
    data: bytes
    source: str  # what was read: the final URL, "sample:<name>", "data:" or a file path
    note: str | None = None  # set when a bundled sample stood in for the URL


HOSTS_KEPT = 1024  # hosts judged by the input policy and remembered


def _names_this_machine(host: str) -> bool:
    """A loopback literal or ``localhost``: where a bundled sample URL is read from the package
    instead of fetched (nothing is connected to, so the name is enough)."""
    address = parse_address(host)
    if address is not None:
        return is_loopback_address(address)
    return normalise_host(host) == "localhost"


def _mb(n: int) -> str:
    return f"{n / 1_000_000:g} MB" if n >= 100_000 else f"{n} bytes"


def _parse(field: str, url: str) -> tuple[URL, str | None]:
    """The URL and its host; any failure of the (lazy, IDNA-decoding) parser is a rejection."""
    try:
        parsed = URL(url)
        return parsed, parsed.host
    except Exception:  # hostile strings fail in many ways inside yarl and idna
        raise InputRejected(f"{field}: not a valid URL") from None


def _note(field: str, host: str, sample: str) -> str:
    return (
        f"{field}: {host} was not contacted (input policy 'offline'); "
        f"the bundled sample {sample} stood in"
    )


class Fetcher:
    """Reads input URLs for the pipeline; owns one aiohttp client session."""

    def __init__(self, config: InputsConfig, own_hosts: tuple[str, ...] = ()) -> None:
        self.config = config
        # Hosts the gateway itself answers on (its public and media base URLs): their
        # /_mock/samples/<name> URLs are read from the package like loopback ones.
        self.own_hosts = frozenset(h.lower() for h in own_hosts)
        self.policy = OutboundPolicy.from_list(
            config.allow_hosts,
            public=config.policy is InputPolicy.ONLINE,
            setting="inputs.allow_hosts",
        )
        self._session: aiohttp.ClientSession | None = None
        self._slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None
        self._hosts: Memo[str, tuple[bool, bool]] = Memo(HOSTS_KEPT)

    def _judged(self, host: str) -> tuple[bool, bool]:
        """Whether ``host`` is the gateway's own and whether it may be looked up: a function of
        the name and the fixed policy, remembered (boundedly) since every job asks it twice."""
        known = self._hosts.get(host)
        if known is None:
            own = _names_this_machine(host) or normalise_host(host) in self.own_hosts
            known = self._hosts.keep(host, (own, may_look_up(host, self.policy)))
        return known

    def _is_own(self, host: str) -> bool:
        return self._judged(host)[0]

    def host_allowed(self, host: str) -> bool:
        """May ``host`` be looked up at all? What it resolves to is judged again on connecting."""
        return self._judged(host)[1]

    async def fetch(self, field: str, url: str, kind: str) -> Fetched:
        """The bytes behind ``url`` for input ``field`` of ``kind`` ("image" or "audio")."""
        found = self.fetch_at_once(field, url, kind)
        if found is not None:
            return found
        parsed, host = _parse(field, url)
        if parsed.scheme.lower() == "file":
            return await self._file(field, parsed)
        timeout = self.config.timeout_seconds
        try:
            async with self._slot(), asyncio.timeout(timeout):
                return await self._http(field, parsed)
        except TimeoutError:
            raise InputRejected(
                f"{field}: {host} did not answer within {timeout:g} s (inputs.timeout_seconds)"
            ) from None

    def fetch_at_once(self, field: str, url: str, kind: str) -> Fetched | None:
        """What :meth:`fetch` answers without reading anything (a ``data:`` URL, a bundled
        sample, a refusal, raised), or None when the bytes must be read from a file or the
        network: most jobs need no task of their own to fetch their inputs."""
        parsed, host = _parse(field, url)
        scheme = parsed.scheme.lower()
        if scheme == "data":
            return Fetched(self._data_url(field, url), "data:")
        if scheme == "file":
            return None
        if scheme not in ("http", "https") or not host:
            raise InputRejected(
                f"{field}: unsupported URL {url[:80]!r} (expected an http, https or data: URL)"
            )
        name = sample_name_from_path(parsed.path)
        if name is not None and self._is_own(host):
            return Fetched(sample_bytes(name), f"sample:{name}")
        if not self.host_allowed(host):
            if self.config.policy is InputPolicy.OFFLINE:
                sample = stand_in(kind, parsed.path)
                return Fetched(sample_bytes(sample), f"sample:{sample}", _note(field, host, sample))
            address = parse_address(host)
            if self.config.policy is InputPolicy.ONLINE and address is not None:
                raise InputRejected(f"{field}: {refusal(host, address, self.policy)}")
            raise InputRejected(
                f"{field}: host {host} is unreachable: the strict input policy fetches only "
                "loopback, data: and allowed hosts (add it to inputs.allow_hosts)"
            )
        return None

    def stand_in_note(self, field: str, url: str, kind: str) -> str | None:
        """The note :meth:`fetch` will make for ``url``, known without fetching: set when the
        offline policy will stand a bundled sample in for it, so the request can be journaled
        with it at once."""
        if self.config.policy is not InputPolicy.OFFLINE:
            return None
        try:
            parsed, host = _parse(field, url)
        except InputRejected:
            return None
        if parsed.scheme.lower() not in ("http", "https") or not host:
            return None
        if self.host_allowed(host) or (
            self._is_own(host) and sample_name_from_path(parsed.path) is not None
        ):
            return None
        return _note(field, host, stand_in(kind, parsed.path))

    def _data_url(self, field: str, url: str) -> bytes:
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise InputRejected(f"{field}: not a valid data: URL (no comma)")
        limit = self.config.max_bytes
        if len(payload) > 2 * limit + 16:
            raise InputRejected(f"{field}: the data: URL is larger than the {_mb(limit)} limit")
        try:
            if header.lower().endswith(";base64"):
                data = base64.b64decode(unquote(payload), validate=True)
            else:
                data = unquote_to_bytes(payload)
        except ValueError:
            raise InputRejected(f"{field}: not a valid data: URL (bad base64)") from None
        if len(data) > limit:
            raise InputRejected(f"{field}: the data: URL is larger than the {_mb(limit)} limit")
        return data

    async def _file(self, field: str, parsed: URL) -> Fetched:
        root = self.config.file_dir
        if root is None:
            raise InputRejected(
                f"{field}: file: URLs are not allowed (the operator has not set inputs.file_dir)"
            )
        if parsed.host not in (None, "", "localhost"):
            raise InputRejected(f"{field}: file: URLs must not name a host")
        limit = self.config.max_bytes

        def read() -> bytes:
            path = Path(unquote(parsed.raw_path)).resolve()
            if not path.is_relative_to(root.resolve()):
                raise InputRejected(f"{field}: file: URL points outside the allowed directory")
            with path.open("rb") as handle:
                return handle.read(limit + 1)

        try:
            data = await asyncio.to_thread(read)
        except OSError:
            raise InputRejected(f"{field}: no readable file at {parsed.path}") from None
        if len(data) > limit:
            raise InputRejected(f"{field}: the file is larger than the {_mb(limit)} limit")
        return Fetched(data, f"file:{parsed.path}")

    async def _http(self, field: str, url: URL) -> Fetched:
        session = self._client()
        for _ in range(self.config.max_redirects + 1):
            try:
                async with session.get(url, allow_redirects=False) as response:
                    if response.status in _REDIRECTS and "Location" in response.headers:
                        url = self._next_hop(field, url, response.headers["Location"])
                        continue
                    if response.status != 200:
                        raise InputRejected(
                            f"{field}: {url.host} answered HTTP {response.status} for {url.path}"
                        )
                    return Fetched(await self._body(field, response), str(url))
            except (aiohttp.ClientError, OutboundRefused) as exc:
                refused = refusal_of(exc)
                if refused is not None:
                    raise InputRejected(f"{field}: {refused.reason}") from None
                raise InputRejected(
                    f"{field}: {url.host} is unreachable ({type(exc).__name__}: {exc})"
                ) from None
            except (ValueError, UnicodeError):  # a URL aiohttp cannot request
                raise InputRejected(f"{field}: not a valid URL") from None
        raise InputRejected(f"{field}: more than {self.config.max_redirects} redirects")

    def _next_hop(self, field: str, url: URL, location: str) -> URL:
        try:
            target, host = _parse(field, str(url.join(URL(location))))
        except (InputRejected, ValueError):
            raise InputRejected(f"{field}: {url.host} redirected to an invalid URL") from None
        if target.scheme not in ("http", "https") or not host:
            raise InputRejected(f"{field}: {url.host} redirected to a non-http URL")
        if not self.host_allowed(host):
            raise InputRejected(
                f"{field}: {url.host} redirected to {host}, a host the input policy "
                f"'{self.config.policy.value}' does not contact"
            )
        return target

    async def _body(self, field: str, response: aiohttp.ClientResponse) -> bytes:
        limit = self.config.max_bytes
        too_big = f"{field}: the file is larger than the {_mb(limit)} limit (inputs.max_bytes)"
        if (response.content_length or 0) > limit:
            response.close()
            raise InputRejected(too_big)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > limit:
                response.close()  # stop reading here: the rest is never received
                raise InputRejected(too_big)
            chunks.append(chunk)
        return b"".join(chunks)

    def _slot(self) -> asyncio.Semaphore:
        """The running loop's semaphore of ``inputs.max_connections`` fetch slots."""
        loop = asyncio.get_running_loop()
        if self._slots is None or self._slots[0] is not loop:
            self._slots = (loop, asyncio.Semaphore(self.config.max_connections))
        return self._slots[1]

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = guarded_session(self.policy, limit=self.config.max_connections)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
