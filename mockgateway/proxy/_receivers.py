"""Delivering a relayed callback to the client's webhook receiver, under the webhook policy."""

from __future__ import annotations

import aiohttp

from .._config import WebhookConfig
from .._outbound import WEBHOOK_BODY_CAP, read_prefix, refusal_of, webhook_session


class Receivers:
    """One attempt per callback the upstream makes; the upstream retries as it would."""

    def __init__(self, config: WebhookConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = webhook_session(self.config)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def deliver(self, url: str, body: bytes) -> tuple[int | None, bytes, str | None]:
        """POST ``body`` to ``url``: the receiver's status and answer, or None and why."""
        assert self._session is not None, "Receivers.start() first"
        timeout = self.config.timeout_seconds
        try:
            async with self._session.post(
                url, data=body, headers={"Content-Type": "application/json"},
                allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:  # fmt: skip
                prefix = await read_prefix(response.content, WEBHOOK_BODY_CAP)
                if not response.content.at_eof():
                    response.close()  # never drain a large answer
                return response.status, prefix, None
        except TimeoutError:
            return None, b"", f"timed out after {timeout:g} s"
        except Exception as exc:  # a refused host, a reset: the attempt failed, not the proxy
            refused = refusal_of(exc)
            if refused is not None:
                return None, b"", f"blocked: {refused}"
            return None, b"", f"{type(exc).__name__}: {exc}"
