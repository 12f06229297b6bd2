"""The outbound policy: the pure rule, the guarded connector on every hop, and bounded reads.

Names resolve through :class:`tests.outbound_support.MapResolver` and every connect passes the
:class:`tests.outbound_support.Tripwire`, so a refusal is shown by the connect that never
happened and nothing can leave loopback even if the policy were broken.
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from mockgateway import config_from_mapping
from mockgateway._netpolicy import (
    OutboundPolicy,
    OutboundRefused,
    allowed_addresses,
    may_look_up,
    refusal,
    unwrap,
)
from mockgateway._outbound import WEBHOOK_BODY_CAP, aiohttp_sender
from mockgateway._webhooks import webhook_policy
from mockgateway.media import Fetcher, InputPolicy, InputRejected, InputsConfig
from tests import media_support as ms
from tests.outbound_support import Tripwire, guarded_session

from .support import memory_of, served
from .test_webhooks import receiver

ip = ipaddress.ip_address
OFFLINE = OutboundPolicy(setting="inputs.allow_hosts")
PUBLIC = OutboundPolicy(public=True, setting="inputs.allow_hosts")

NOT_PUBLIC = [
    ("10.0.0.1", "a private address"),
    ("172.16.5.4", "a private address"),
    ("192.168.1.1", "a private address"),
    ("169.254.169.254", "a link-local address"),
    ("100.64.0.1", "not a public address"),
    ("0.0.0.0", "the unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("255.255.255.255", "a private address"),
    ("240.0.0.1", "a private address"),
    ("192.0.2.1", "a private address"),
    ("fd00::1", "a private address"),
    ("fe80::1", "a link-local address"),
    ("fec0::1", "a site-local address"),
    ("ff02::1", "a multicast address"),
    ("::", "the unspecified address"),
    ("::ffff:10.0.0.1", "a private address"),
    ("::ffff:169.254.169.254", "a link-local address"),
    ("64:ff9b::a9fe:a9fe", "a link-local address"),
    ("2002:a00:1::1", "a private address"),
    ("2002:7f00:1::", "a loopback address routed off this machine (6to4 or NAT64)"),
    ("64:ff9b::7f00:1", "a loopback address routed off this machine (6to4 or NAT64)"),
]


def _spelled(address: str) -> str:
    inner = unwrap(ip(address))
    return str(ip(address)) if inner == ip(address) else f"{ip(address)} ({inner})"


@pytest.mark.parametrize(("address", "kind"), NOT_PUBLIC)
def test_online_reaches_only_public_addresses(address: str, kind: str) -> None:
    reason = refusal("cdn.example.com", ip(address), PUBLIC)
    assert reason == (
        f"cdn.example.com resolves to {_spelled(address)}, {kind}; "
        "only loopback, listed hosts and public addresses are reached "
        "(list it in inputs.allow_hosts)"
    )
    assert refusal(address, ip(address), PUBLIC) is not None
    assert not may_look_up(address, PUBLIC)
    assert not may_look_up(f"[{address}]", PUBLIC)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_only_under_a_public_policy(address: str) -> None:
    assert refusal("cdn.example.com", ip(address), PUBLIC) is None
    assert refusal("cdn.example.com", ip(address), OFFLINE) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses_are_always_reached(address: str) -> None:
    for policy in (OFFLINE, PUBLIC):
        assert refusal("anything.test", ip(address), policy) is None
        assert may_look_up(address, policy)


@pytest.mark.parametrize("address", ["2002:7f00:1::", "2002:7f00:1::5", "64:ff9b::7f00:1"])
def test_6to4_and_nat64_forms_of_loopback_are_never_loopback(address: str) -> None:
    """They carry 127.0.0.1 but are routed to a relay or a translator off this machine."""
    for policy in (OFFLINE, PUBLIC):
        assert refusal("anything.test", ip(address), policy) is not None
        assert not may_look_up(f"[{address}]", policy)


def test_names_earn_a_lookup_and_are_judged_on_the_address() -> None:
    assert may_look_up("localhost", OFFLINE)
    assert may_look_up("LOCALHOST.", OFFLINE)
    assert may_look_up("evil.localhost", OFFLINE)
    assert not may_look_up("localhost.evil.test", OFFLINE)
    assert not may_look_up("cdn.example.com", OFFLINE)
    assert may_look_up("cdn.example.com", PUBLIC)
    assert not may_look_up("", PUBLIC)
    assert not may_look_up("[]", PUBLIC)
    assert refusal("localhost", ip("127.0.0.1"), OFFLINE) is None
    assert refusal("localhost.", ip("10.0.0.2"), OFFLINE) == (
        "localhost resolves to 10.0.0.2, a private address; only loopback and listed hosts "
        "are reached (list it in inputs.allow_hosts)"
    )
    assert refusal("evil.localhost", ip("10.0.0.1"), PUBLIC) is not None


def test_listed_hosts_reach_what_they_resolve_to() -> None:
    policy = OutboundPolicy.from_list(["hooks.corp.test", "*.lan.test", "10.9.0.0/16", "10.8.0.1"])
    assert not policy.public
    assert refusal("hooks.corp.test", ip("10.1.2.3"), policy) is None
    assert refusal("HOOKS.corp.test.", ip("10.1.2.3"), policy) is None
    assert refusal("a.lan.test", ip("192.168.0.9"), policy) is None
    assert refusal("lan.test", ip("192.168.0.9"), policy) is not None
    assert refusal("other.test", ip("10.1.2.3"), policy) is not None
    assert refusal("other.test", ip("10.9.4.4"), policy) is None  # inside a listed network
    assert refusal("10.8.0.1", ip("10.8.0.1"), policy) is None
    assert may_look_up("10.8.0.1", policy)
    assert not may_look_up("10.8.0.2", policy)
    assert OutboundPolicy.from_list(["*"]).public  # "*" is any public address, not any address
    assert refusal("x.test", ip("169.254.169.254"), OutboundPolicy.from_list(["*"])) is not None


def test_only_allowed_addresses_of_a_host_are_connected_to() -> None:
    mixed = [ip("10.0.0.1"), ip("127.0.0.1"), ip("8.8.8.8")]
    assert allowed_addresses("mixed.test", mixed, OFFLINE) == [ip("127.0.0.1")]
    assert allowed_addresses("mixed.test", mixed, PUBLIC) == [ip("127.0.0.1"), ip("8.8.8.8")]
    with pytest.raises(OutboundRefused, match=r"^mixed\.test resolves to 10\.0\.0\.1, a private"):
        allowed_addresses("mixed.test", [ip("10.0.0.1")], PUBLIC)
    with pytest.raises(OutboundRefused, match="no address"):
        allowed_addresses("empty.test", [], PUBLIC)


_PRIVATE_V4 = st.one_of(
    *(
        st.ip_addresses(network=net)
        for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "0.0.0.0/8")
    )
)


@given(st.ip_addresses(v=4))
def test_ipv4_mapped_addresses_are_judged_as_their_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    for policy in (OFFLINE, PUBLIC):
        assert (refusal("h.test", mapped, policy) is None) == (
            refusal("h.test", address, policy) is None
        )


@given(_PRIVATE_V4, st.sampled_from(["h.test", "localhost", "evil.localhost"]))
def test_private_addresses_are_refused_by_any_name_unless_listed(
    address: ipaddress.IPv4Address, name: str
) -> None:
    assert refusal(name, address, PUBLIC) is not None
    assert refusal(name, ipaddress.IPv6Address(f"::ffff:{address}"), PUBLIC) is not None
    assert refusal(name, address, OutboundPolicy.from_list([name])) is None


@given(st.ip_addresses(network="127.0.0.0/8") | st.just(ipaddress.IPv6Address("::1")))
def test_loopback_is_reached_by_any_name(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert refusal("evil.localhost", address, OFFLINE) is None


# -- the guarded connector, every hop ---------------------------------------------------------


def _redirect(location: str) -> ms.Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location.replace("PORT", str(request.url.port)))

    return handler


HOSTILE = {
    "evil.localhost": ["10.0.0.1"],
    "localhost.": ["10.0.0.2"],
    "private.test": ["192.168.1.1"],
    "metadata.test": ["169.254.169.254"],
    "mapped.test": ["::ffff:10.0.0.1"],
    "localhost": ["127.0.0.1"],
    "mixed.test": ["10.0.0.1", "127.0.0.1"],
}


async def _fetch(config: InputsConfig, url: str, tripwire: Tripwire) -> Any:
    fetcher = Fetcher(config)
    fetcher._session = guarded_session(fetcher.policy, HOSTILE, tripwire)
    try:
        return await fetcher.fetch("image_url", url, "image")
    except InputRejected as exc:
        return str(exc)
    finally:
        await fetcher.close()


@pytest.mark.parametrize("policy", [InputPolicy.OFFLINE, InputPolicy.STRICT, InputPolicy.ONLINE])
@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("http://localhost.:PORT/x.png", "localhost resolves to 10.0.0.2, a private address"),
        ("http://evil.localhost:PORT/x.png", "evil.localhost resolves to 10.0.0.1, a private"),
        ("http://mapped.test:PORT/x.png", "mapped.test resolves to ::ffff:a00:1 (10.0.0.1), a"),
        ("http://metadata.test/x.png", "metadata.test resolves to 169.254.169.254, a link-local"),
        ("http://[::ffff:10.0.0.1]/x.png", "127.0.0.1 redirected to ::ffff:"),
        ("http://169.254.169.254/x.png", "127.0.0.1 redirected to 169.254.169.254, a host"),
    ],
)
async def test_no_redirect_hop_connects_to_a_refused_address(
    policy: InputPolicy, target: str, message: str
) -> None:
    tripwire = Tripwire()
    async with ms.file_server({}, {"/a": _redirect("/b"), "/b": _redirect(target)}) as base:
        got = await _fetch(InputsConfig(policy=policy), f"{base}/a", tripwire)
    assert tripwire.non_loopback == []
    assert isinstance(got, str)
    offline_refusal = policy is not InputPolicy.ONLINE and ".test" in target
    if offline_refusal:  # a name only an online policy looks up
        assert got.startswith("image_url: 127.0.0.1 redirected to "), got
    else:
        assert got.startswith(f"image_url: {message}"), got


async def test_a_host_resolving_to_several_addresses_is_reached_only_on_the_allowed_one() -> None:
    tripwire = Tripwire()
    async with ms.file_server({"/real.png": b"real"}) as base:
        port = base.rsplit(":", 1)[1]
        got = await _fetch(
            InputsConfig(policy=InputPolicy.ONLINE), f"http://mixed.test:{port}/real.png", tripwire
        )
        direct = await _fetch(InputsConfig(), f"http://localhost:{port}/real.png", tripwire)
    assert got.data == b"real"
    assert direct.data == b"real"
    assert tripwire.connects == ["127.0.0.1", "127.0.0.1"]


async def test_webhooks_connect_only_to_allowed_addresses() -> None:
    tripwire = Tripwire()
    config = config_from_mapping({"webhooks": {"allow_hosts": ["*"]}}).webhooks
    async with receiver() as hook, guarded_session(webhook_policy(config), HOSTILE, tripwire) as s:
        send = aiohttp_sender(s)
        port = hook.url.split(":")[2].split("/")[0]
        results = {
            name: await send(f"http://{name}:{port}/hook", b"{}", {}, 5.0)
            for name in (
                "evil.localhost",
                "localhost.",
                "mapped.test",
                "metadata.test",
                "localhost",
            )
        }
    assert tripwire.non_loopback == []
    assert results["localhost"].status == 204
    assert len(hook.calls) == 1
    for name in ("evil.localhost", "localhost.", "mapped.test", "metadata.test"):
        result = results[name]
        assert result.status is None
        assert (result.error or "").startswith(f"blocked: {name.rstrip('.')} resolves to "), result
        assert (result.error or "").endswith("(list it in webhooks.allow_hosts)")


async def test_a_refused_webhook_address_is_a_journaled_failed_attempt() -> None:
    config = config_from_mapping(
        {"clock": {"mode": "manual"}, "webhooks": {"allow_hosts": ["*"], "max_attempts": 1}}
    )
    async with served(config) as (gw, client):
        answer = await client.generate(headers={"X-Webhook-URL": "http://169.254.169.254/hook"})
        assert answer.status == 202, answer.raw
        await gw.advance(10)
        attempts = [e for e in memory_of(gw.gateway).journal if e.kind == "webhook"]
    assert len(attempts) == 1
    assert attempts[0].status is None
    assert attempts[0].error == (
        "blocked: 169.254.169.254 is a link-local address; only loopback, listed hosts and "
        "public addresses are reached (list it in webhooks.allow_hosts)"
    )


# -- bounded reads ------------------------------------------------------------------------------


class Flood:
    """A handler answering up to ``total`` bytes, counting what it managed to send."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.sent = 0
        self.done = asyncio.Event()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse()
        response.enable_chunked_encoding()  # no Content-Length: the size shows only while reading
        await response.prepare(request)
        chunk = bytes(64 * 1024)
        try:
            while self.sent < self.total:
                await response.write(chunk)
                self.sent += len(chunk)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            self.done.set()
        return response


async def test_a_webhook_answer_is_read_only_to_a_small_cap() -> None:
    flood = Flood(64 * 1024 * 1024)
    async with ms.file_server({}, {"/hook": flood}) as base:
        config = config_from_mapping({"clock": {"mode": "manual"}})
        async with served(config) as (gw, client):
            await client.generate(headers={"X-Webhook-URL": f"{base}/hook"})
            await gw.advance(3)
            await asyncio.wait_for(flood.done.wait(), 10)
            attempts = [e for e in memory_of(gw.gateway).journal if e.kind == "webhook"]
    assert [e.status for e in attempts] == [200]
    assert attempts[0].response_body == "\x00" * 2000
    assert flood.sent < 32 * 1024 * 1024  # the connection was dropped, not drained
    assert WEBHOOK_BODY_CAP <= 16 * 1024


async def test_an_input_over_the_limit_stops_being_read_while_streaming() -> None:
    flood = Flood(64 * 1024 * 1024)
    async with ms.file_server({}, {"/big.png": flood}) as base:
        fetcher = Fetcher(InputsConfig(max_bytes=1024 * 1024))
        try:
            with pytest.raises(InputRejected, match=r"larger than the 1\.04858 MB limit"):
                await fetcher.fetch("image_url", f"{base}/big.png", "image")
        finally:
            await fetcher.close()
        await asyncio.wait_for(flood.done.wait(), 10)
    assert flood.sent < 32 * 1024 * 1024


# -- the fetch timeout times the fetch, not the queue -------------------------------------------


async def test_the_fetch_timeout_does_not_count_the_wait_for_a_connection() -> None:
    in_flight = 0
    most = 0

    async def slow(request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.25)
            return web.Response(body=b"img")
        finally:
            in_flight -= 1

    # Each fetch takes a quarter of its 1.5 s limit; queued behind 8 rounds of aiohttp's default
    # pool (100), the last ones wait about 2 s, which used to count against the limit.
    config = InputsConfig(timeout_seconds=1.5)  # default max_connections
    fetches = 8 * max(config.max_connections, 100) + 10
    async with ms.file_server({}, {"/slow.png": slow}) as base:
        fetcher = Fetcher(config)
        try:
            results = await asyncio.gather(
                *(fetcher.fetch("image_url", f"{base}/slow.png", "image") for _ in range(fetches)),
                return_exceptions=True,
            )
        finally:
            await fetcher.close()
    failures = [str(r) for r in results if isinstance(r, BaseException)]
    assert failures == []
    assert most <= config.max_connections


async def test_fetches_beyond_max_connections_wait_untimed() -> None:
    config = InputsConfig(timeout_seconds=0.5, max_connections=2)
    async with ms.file_server({}, {"/slow.png": _slow_image}) as base:
        fetcher = Fetcher(config)
        try:
            results = await asyncio.gather(
                *(fetcher.fetch("image_url", f"{base}/slow.png", "image") for _ in range(8))
            )
        finally:
            await fetcher.close()
    assert [r.data for r in results] == [b"img"] * 8  # 4 rounds of 0.2 s, each well in 0.5 s


async def _slow_image(request: web.Request) -> web.StreamResponse:
    await asyncio.sleep(0.2)
    return web.Response(body=b"img")
