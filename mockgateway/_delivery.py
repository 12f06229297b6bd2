"""Webhook delivery over the store: the fault policy for each callback (drop, delay, copies,
order), one stored delivery per callback, one timed task per attempt, retries on the gateway clock.

Each attempt is a task handed to one process only; the attempt is counted in a step before the
HTTP exchange, and a durable store also keeps a fallback task for the next attempt, so retries go
on when the process that made an attempt dies during it. The exchange itself runs as a task.
A URL whose host the outbound policy refuses is never contacted; the attempt is journaled as
blocked.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import urlsplit

from ._clock import Clock
from ._config import WebhookConfig
from ._jobs import Job, billing_record, status_body
from ._journal import JournalEntry, redact_key
from ._metrics import webhook_outcome
from ._netpolicy import may_look_up, parse_address, refusal
from ._timeline import Timeline
from ._webhooks import Sender, SendResult, backoff_delay, webhook_policy
from .faults import FaultEngine
from .store import WEBHOOK, DeliveryRecord, Store, Task

log = logging.getLogger("mockgateway.webhooks")


class Webhooks:
    def __init__(
        self,
        config: WebhookConfig,
        *,
        store: Store,
        clock: Clock,
        faults: FaultEngine,
        send: Sender,
        timeline: Timeline,
    ) -> None:
        self.config = config
        self.policy = webhook_policy(config)
        self.store = store
        self.clock = clock
        self.faults = faults
        self._send = send
        self.timeline = timeline
        self._tasks: set[asyncio.Task[None]] = set()
        self._fallback = store.kind != "memory"  # a durable store outlives the attempt's process

    # what a transition sends (inside the transition's step) ---------------------------------

    async def job_moved(self, job: Job) -> None:
        """Send the job's status to its webhook when the configuration says this move is sent."""
        if job.webhook_url and (self.config.per_transition or job.status.terminal):
            await self._callback(job, job.webhook_url, status_body(job))

    async def _callback(self, job: Job, url: str, body: dict[str, Any]) -> None:
        """Dispatch one callback as the webhook fault rules say (drop, delay, copies, order)."""
        scenario = job.plan.scenario if job.plan else None
        webhook = await self.faults.plan_webhook(job.key, job.model_id, body["status"], scenario)
        if webhook.drop:
            rules = ", ".join(webhook.fired) or "a webhook_drop rule"
            job.notes += (f"webhook for {body['status']} to {url} dropped by fault ({rules})",)
            return
        if webhook.reorder and not job.status.terminal:
            job.held_webhooks += (body,)
            return
        bodies = [body, *reversed(job.held_webhooks)]
        job.held_webhooks = ()
        # one scaled tenth of a second apart, so the receiver sees them in this order
        step = self.faults.scale(0.1)
        ended = job.status.terminal and body.get("status") == job.status.value
        for i, item in enumerate(bodies):
            billing = billing_record(job) if ended and item is body else None
            for _ in range(webhook.copies):
                await self.dispatch(job, url, item, delay=webhook.delay + i * step, billing=billing)

    async def dispatch(
        self,
        job: Job,
        url: str,
        body: dict[str, Any],
        *,
        delay: float = 0.0,
        billing: dict[str, Any] | None = None,
    ) -> DeliveryRecord:
        number = await self.store.incr("delivery")
        delivery = DeliveryRecord(
            id=f"{job.request_id}/{number}",
            request_id=job.request_id,
            url=url,
            body=body,
            key=job.key,
            billing=billing,
        )
        await self.store.save_delivery(delivery)
        await self.timeline.at(self.clock.now() + delay, WEBHOOK, f"{delivery.id}#1")
        return delivery

    # attempts ---------------------------------------------------------------------------------

    async def attempt(self, task: Task) -> None:
        """Run one attempt's task: count the attempt in a step, then exchange outside it."""
        delivery_id, _, number_text = task.ref.rpartition("#")
        number = int(number_text)
        store = self.store
        async with store.atomic():
            delivery = await store.get_delivery(delivery_id)
            await store.ack(task)
            if delivery is None or delivery.delivered or delivery.attempts >= number:
                return  # forgotten, delivered, or this attempt was made already
            delivery.attempts = number
            host = urlsplit(delivery.url).hostname or ""
            if not may_look_up(host, self.policy):
                address = parse_address(host)
                reason = refusal(host, address, self.policy) if address is not None else None
                error = (
                    f"blocked: {reason}"
                    if reason
                    else f"blocked: host {host!r} is not allowed (webhooks.allow_hosts)"
                )
                self._record(delivery, SendResult(None, error=error), self.clock.now(), b"")
                await store.save_delivery(delivery)
                return
            await store.save_delivery(delivery)
            if self._fallback and number < self.config.max_attempts:
                # taken over if this process dies mid-exchange; a no-op once attempt n+1 is made
                wait = self.config.timeout_seconds + self._backoff(number)
                await self.timeline.at(
                    self.clock.now() + wait, WEBHOOK, f"{delivery_id}#{number + 1}"
                )
        exchange = asyncio.get_running_loop().create_task(self._exchange(delivery, number))
        self._tasks.add(exchange)
        exchange.add_done_callback(self._tasks.discard)

    def _backoff(self, attempt: int) -> float:
        return backoff_delay(attempt, self.config) * self.faults.time_scale

    async def _exchange(self, delivery: DeliveryRecord, number: int) -> None:
        payload = json.dumps(delivery.body).encode()
        started = self.clock.now()
        headers = {"Content-Type": "application/json", "User-Agent": "mockgateway-webhook"}
        result = await self._send(delivery.url, payload, headers, self.config.timeout_seconds)
        store = self.store
        async with store.atomic():
            stored = await store.get_delivery(delivery.id) or delivery
            stored.attempts = max(stored.attempts, number)
            self._record(stored, result, started, payload, headers, number)
            if result.status is not None and 200 <= result.status < 300:
                stored.delivered = True
            elif number < self.config.max_attempts:
                due = self.clock.now() + self._backoff(number)
                await self.timeline.at(due, WEBHOOK, f"{delivery.id}#{number + 1}")
            await store.save_delivery(stored)

    def _record(
        self,
        delivery: DeliveryRecord,
        result: SendResult,
        started: float,
        payload: bytes,
        headers: dict[str, str] | None = None,
        number: int | None = None,
    ) -> None:
        now = self.clock.now()
        attempt = number if number is not None else delivery.attempts
        delivery.outcomes.append(
            {
                "attempt": attempt,
                "status": result.status,
                "error": result.error,
                "at": now,
                "outcome": webhook_outcome(result.status, result.error),
            }
        )
        self.store.journal_append(
            _webhook_entry,
            delivery,
            dict(headers or {}),
            attempt,
            self.config.max_attempts,
            result,
            len(payload),
            started,
            now,
            size=len(payload) + len(result.body[:2000]),
        )

    @property
    def busy(self) -> bool:
        """Whether an HTTP exchange is in flight."""
        return bool(self._tasks)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        for task in list(self._tasks):
            task.cancel()


def _webhook_entry(
    seq: int,
    delivery: DeliveryRecord,
    headers: dict[str, str],
    attempt: int,
    max_attempts: int,
    result: SendResult,
    size: int,
    started: float,
    finished: float,
) -> JournalEntry:
    parts = urlsplit(delivery.url)
    return JournalEntry(
        seq=seq,
        kind="webhook",
        route="webhook",
        method="POST",
        url=delivery.url,
        path=parts.path or "/",
        headers=headers,
        key=redact_key(delivery.key),
        request_id=delivery.request_id,
        body=delivery.body,
        body_size=size,
        status=result.status,
        response_body=result.body[:2000] if result.body else None,
        started_at=started,
        finished_at=finished,
        error=result.error,
        notes=(f"attempt {attempt} of {max_attempts}",),
        billing=delivery.billing,
    )
