"""Helpers for the outbound policy tests: a resolver the test controls and a connect tripwire.

The resolver answers from a table and never asks the system, so a name can "resolve" to a
private address without any lookup leaving the machine. The tripwire is the connector's socket
factory: it records every address a connect is attempted to and refuses any non-loopback one
before a packet is sent, so even a broken policy cannot reach another host from a test.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from mockgateway._netpolicy import OutboundPolicy, unwrap
from mockgateway._outbound import GuardedConnector


class MapResolver(AbstractResolver):
    """Names to addresses from a table; an unknown name fails like a name with no address."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.table:
            raise OSError(f"no address for {host}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        return None


class Tripwire:
    """A socket factory recording each connect's address; only loopback ones get a socket."""

    def __init__(self) -> None:
        self.connects: list[str] = []

    def __call__(self, addr_info: Any) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        self.connects.append(sockaddr[0])
        if not unwrap(ipaddress.ip_address(sockaddr[0])).is_loopback:
            raise OSError(f"tripwire: a connect to {sockaddr[0]} was attempted")
        return socket.socket(family=family, type=type_, proto=proto)

    @property
    def non_loopback(self) -> list[str]:
        return [a for a in self.connects if not unwrap(ipaddress.ip_address(a)).is_loopback]


def guarded_session(
    policy: OutboundPolicy, table: dict[str, list[str]], tripwire: Tripwire
) -> aiohttp.ClientSession:
    """What :func:`mockgateway._outbound.guarded_session` makes, with the test's resolver and
    tripwire in place of the system's."""
    connector = GuardedConnector(policy, resolver=MapResolver(table), socket_factory=tripwire)
    return aiohttp.ClientSession(connector=connector, trust_env=False)
