"""What a webhook is, without the store: the sender's signature and result, the outbound policy
for callbacks, and the backoff between attempts (:mod:`mockgateway._delivery` delivers them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ._config import WebhookConfig
from ._netpolicy import OutboundPolicy, may_look_up


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
