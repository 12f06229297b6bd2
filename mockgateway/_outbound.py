"""The gateway's outgoing HTTP: webhook POSTs through one aiohttp client session, no redirects."""

from __future__ import annotations

import asyncio

import aiohttp

from ._webhooks import Sender, SendResult


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
                text = await response.text(errors="replace")
                return SendResult(response.status, text)
        except TimeoutError:
            return SendResult(None, error=f"timed out after {timeout:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, error=f"{type(exc).__name__}: {exc}")
        except asyncio.CancelledError:
            raise

    return send
