"""The gateway's outgoing HTTP: sessions whose every connection obeys the outbound policy.

:class:`GuardedConnector` filters the addresses a host resolves to (or an address literal)
through :mod:`mockgateway._netpolicy` before aiohttp connects, so no request, redirect hop or
retry can reach an address the policy refuses. Webhook POSTs go through one such session, never
follow redirects, and read at most :data:`WEBHOOK_BODY_CAP` bytes of the answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.tracing import Trace

from ._config import WebhookConfig
from ._netpolicy import OutboundPolicy, OutboundRefused, allowed_addresses
from ._webhooks import Sender, SendResult, webhook_policy

WEBHOOK_BODY_CAP = 8 * 1024  # bytes of a receiver's answer read and journaled; the rest is dropped


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector that only connects to addresses ``policy`` allows.

    aiohttp asks ``_resolve_host`` for the addresses of every connection it opens, literals
    included; refusing there is what makes the policy hold for every hop, whatever the URL said.
    """

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy

    async def _resolve_host(
        self, host: str, port: int, traces: Sequence[Trace] | None = None
    ) -> list[ResolveResult]:
        results = await super()._resolve_host(host, port, traces=traces)
        parsed = []
        for result in results:
            try:
                parsed.append(ipaddress.ip_address(result["host"]))
            except ValueError:
                continue
        allowed = set(allowed_addresses(host, parsed, self.policy))
        return [r for r, a in zip(results, parsed, strict=False) if a in allowed]


def refusal_of(exc: BaseException) -> OutboundRefused | None:
    """The policy refusal behind an aiohttp error, if that is what it was."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OutboundRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def guarded_session(policy: OutboundPolicy, *, limit: int = 100) -> aiohttp.ClientSession:
    """A client session that never uses proxies or the environment and obeys ``policy``."""
    return aiohttp.ClientSession(
        connector=GuardedConnector(policy, limit=limit),
        trust_env=False,
        raise_for_status=False,
    )


def webhook_session(config: WebhookConfig) -> aiohttp.ClientSession:
    return guarded_session(webhook_policy(config))


async def read_prefix(body: aiohttp.StreamReader, cap: int) -> bytes:
    """At most ``cap`` bytes of a body (an answer's or a request's, as it arrives); the caller
    closes the connection after when it wanted no more."""
    chunks: list[bytes] = []
    size = 0
    while size < cap:
        chunk = await body.read(cap - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def aiohttp_sender(session: aiohttp.ClientSession) -> Sender:
    async def send(url: str, body: bytes, headers: dict[str, str], timeout: float) -> SendResult:
        try:
            async with session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                prefix = await read_prefix(response.content, WEBHOOK_BODY_CAP)
                if not response.content.at_eof():
                    response.close()  # never drain a large answer: drop the connection instead
                return SendResult(response.status, prefix.decode("utf-8", errors="replace"))
        except TimeoutError:
            return SendResult(None, error=f"timed out after {timeout:g} s")
        except (aiohttp.ClientError, OSError, OutboundRefused) as exc:
            refused = refusal_of(exc)
            if refused is not None:
                return SendResult(None, error=f"blocked: {refused}")
            return SendResult(None, error=f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise

    return send
