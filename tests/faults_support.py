"""Helpers for the failure-simulation tests: scenario configs and waiting on loopback I/O."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mockgateway import GatewayConfig, config_from_mapping

START = 1_774_951_200.0  # 2026-03-31T10:00:00Z

DOC_401_INVALID = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription.",
}
DOC_402 = {"error": "Insufficient Balance", "message": "Your wallet does not have enough balance."}


def scenario_config(**sections: Any) -> GatewayConfig:
    """A manual-clock gateway config with the given scenario sections."""
    return config_from_mapping({"clock": {"mode": "manual"}, **sections}, "test-scenario.toml")


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for loopback I/O to catch up (never used to let gateway time pass)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.002)


def seconds_between(a: str, b: str) -> float:
    """Seconds between two status-body timestamps (``2026-03-31T10:00:15.000Z``)."""

    def parse(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    return (parse(b) - parse(a)).total_seconds()
