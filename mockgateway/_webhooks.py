"""Webhook delivery: POST the status body to X-Webhook-URL, retrying on the gateway clock.

Retries are scheduler entries, not sleeping tasks. Only the HTTP exchange itself runs as a task.
A URL whose host the outbound policy refuses (by name here, by the address it resolves to in
the connector) is never contacted; the attempt is journaled as blocked.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ._clock import Clock
from ._config import WebhookConfig
from ._journal import Journal, JournalEntry, redact_key
from ._netpolicy import OutboundPolicy, may_look_up, parse_address, refusal
from ._scheduler import Scheduler


def webhook_policy(config: WebhookConfig) -> OutboundPolicy:
    """Loopback always; other hosts when listed in ``allow_hosts`` (``*``: any public address)."""
    return OutboundPolicy.from_list(config.allow_hosts, setting="webhooks.allow_hosts")


def host_allowed(url: str, allow_hosts: tuple[str, ...]) -> bool:
    """Whether ``url``'s host may be looked up at all; what it resolves to is checked again by the
    connector (:class:`mockgateway._outbound.GuardedConnector`) before connecting."""
    host = urlsplit(url).hostname
    return bool(host) and may_look_up(host or "", OutboundPolicy.from_list(allow_hosts))


def backoff_delay(attempt: int, config: WebhookConfig) -> float:
    """Gateway seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return config.initial_backoff_seconds * config.backoff_factor ** (attempt - 1)


@dataclass(frozen=True, slots=True)
class SendResult:
    status: int | None
    body: str = ""
    error: str | None = None


Sender = Callable[[str, bytes, dict[str, str], float], Awaitable[SendResult]]


@dataclass(slots=True)
class Delivery:
    request_id: str
    url: str
    body: dict[str, Any]
    key: str
    attempts: int = 0
    delivered: bool = False
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    billing: dict[str, Any] | None = None  # a terminal callback's job billing, for the journal


class WebhookDispatcher:
    def __init__(
        self,
        config: WebhookConfig,
        *,
        clock: Clock,
        scheduler: Scheduler,
        journal: Journal,
        send: Sender,
    ) -> None:
        self.config = config
        self.policy = webhook_policy(config)
        self.clock = clock
        self.scheduler = scheduler
        self.journal = journal
        self._send = send
        self.deliveries: list[Delivery] = []
        self.time_scale = 1.0  # the scenario's: multiplies every retry wait
        self._tasks: set[asyncio.Task[None]] = set()

    def dispatch(
        self,
        request_id: str,
        url: str,
        body: dict[str, Any],
        key: str,
        delay: float = 0.0,
        billing: dict[str, Any] | None = None,
    ) -> Delivery:
        delivery = Delivery(request_id=request_id, url=url, body=body, key=key, billing=billing)
        self.deliveries.append(delivery)
        self.scheduler.call_later(delay, lambda: self._attempt(delivery))
        return delivery

    def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        host = urlsplit(delivery.url).hostname or ""
        if not may_look_up(host, self.policy):
            address = parse_address(host)
            reason = refusal(host, address, self.policy) if address is not None else None
            error = (
                f"blocked: {reason}"
                if reason
                else (f"blocked: host {host!r} is not allowed (webhooks.allow_hosts)")
            )
            self._record(delivery, SendResult(None, error=error), self.clock.now(), b"")
            return
        task = asyncio.get_running_loop().create_task(self._exchange(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _exchange(self, delivery: Delivery) -> None:
        payload = json.dumps(delivery.body).encode()
        started = self.clock.now()
        headers = {"Content-Type": "application/json", "User-Agent": "mockgateway-webhook"}
        result = await self._send(delivery.url, payload, headers, self.config.timeout_seconds)
        self._record(delivery, result, started, payload, headers)
        if result.status is not None and 200 <= result.status < 300:
            delivery.delivered = True
            return
        if delivery.attempts < self.config.max_attempts:
            wait = backoff_delay(delivery.attempts, self.config) * self.time_scale
            self.scheduler.call_later(wait, lambda: self._attempt(delivery))

    def _record(
        self,
        delivery: Delivery,
        result: SendResult,
        started: float,
        payload: bytes,
        headers: dict[str, str] | None = None,
    ) -> None:
        now = self.clock.now()
        outcome = {
            "attempt": delivery.attempts,
            "status": result.status,
            "error": result.error,
            "at": now,
        }
        delivery.outcomes.append(outcome)
        parts = urlsplit(delivery.url)
        self.journal.append(
            JournalEntry(
                seq=self.journal.next_seq(),
                kind="webhook",
                route="webhook",
                method="POST",
                url=delivery.url,
                path=parts.path or "/",
                headers=headers or {},
                key=redact_key(delivery.key),
                request_id=delivery.request_id,
                body=delivery.body,
                body_size=len(payload),
                status=result.status,
                response_body=result.body[:2000] if result.body else None,
                started_at=started,
                finished_at=now,
                error=result.error,
                notes=(f"attempt {delivery.attempts} of {self.config.max_attempts}",),
                billing=delivery.billing,
            )
        )

    @property
    def busy(self) -> bool:
        """Whether an HTTP exchange is in flight."""
        return bool(self._tasks)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def clear(self) -> None:
        self.deliveries.clear()
