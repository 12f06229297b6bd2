"""Which addresses the gateway's own connections may reach: one rule for inputs and webhooks.

The rule is decided on the address actually connected to, after name resolution, at every hop:

* loopback (127.0.0.0/8, ``::1``, and the IPv4-mapped form of 127/8) always;
* every address of a host the operator listed by name (``hooks.example.com``, ``*.corp.test``),
  and every address inside a listed literal or network (``10.0.0.5``, ``10.0.0.0/8``);
* with ``public`` set (``[inputs] policy = "online"``, or ``"*"`` in ``[webhooks] allow_hosts``)
  any public address, never a private, link-local (cloud metadata), shared, multicast,
  unspecified, reserved or documentation one, looked at through IPv4-mapped, 6to4 and NAT64 forms.

:func:`may_look_up` is the check by name made before anything is resolved, so a host the policy
can never reach (an offline input, an unlisted webhook host) causes no lookup and no connection.
A name (``localhost``, ``x.localhost``, a listed one) only ever earns a lookup: what it resolves
to is judged by :func:`refusal` like any other address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ._errors import MockGatewayError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True, kw_only=True)
class OutboundPolicy:
    """Where one kind of outgoing connection may go; ``setting`` names the key to change it."""

    allow_hosts: tuple[str, ...] = ()  # names, "*.suffix" wildcards, address literals or networks
    public: bool = False  # any public address too
    setting: str = ""

    @classmethod
    def from_list(
        cls, entries: Iterable[str], *, public: bool = False, setting: str = ""
    ) -> OutboundPolicy:
        """A policy from an operator's list, where ``"*"`` means any public address."""
        listed = tuple(e.strip().lower() for e in entries if e.strip())
        return cls(
            allow_hosts=tuple(e for e in listed if e != "*"),
            public=public or "*" in listed,
            setting=setting,
        )


class OutboundRefused(MockGatewayError):
    """A connection the policy does not allow; ``reason`` says which address and why."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(reason)
        self.host = host
        self.reason = reason


def normalise_host(host: str) -> str:
    """A host as named in a URL, compared case-free, without brackets or a final dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def parse_address(host: str) -> IPAddress | None:
    """The address ``host`` spells literally, or None for a name."""
    try:
        return ipaddress.ip_address(normalise_host(host))
    except ValueError:
        return None


def unwrap(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one carries (IPv4-mapped, 6to4, NAT64), else the address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_loopback_address(address: IPAddress) -> bool:
    """127.0.0.0/8, ``::1`` and the IPv4-mapped form of 127/8, which the kernel delivers on this
    machine. A 6to4 or NAT64 form of 127.0.0.1 is not: it is routed to a relay or a translator
    elsewhere, so it is judged (and refused) as the loopback address it carries, never allowed."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _kind(address: IPAddress) -> str | None:
    """What makes ``address`` not public, or None when it is public."""
    for candidate in (unwrap(address),):  # an IPv6 form of an IPv4 address is that address
        if candidate.is_unspecified:
            return "the unspecified address"
        if candidate.is_loopback:  # reached here only through 6to4 or NAT64: not this machine
            return "a loopback address routed off this machine (6to4 or NAT64)"
        if candidate.is_link_local:
            return "a link-local address"
        if candidate.is_multicast:
            return "a multicast address"
        if isinstance(candidate, ipaddress.IPv6Address) and candidate.is_site_local:
            return "a site-local address"
        if candidate.is_private:
            return "a private address"
        if candidate.is_reserved or not candidate.is_global:
            return "not a public address"
    return None


def is_public_address(address: IPAddress) -> bool:
    return _kind(address) is None


def is_localhost_name(host: str) -> bool:
    """``localhost`` and its subdomains (RFC 6761): worth a lookup, judged on where they point."""
    name = normalise_host(host)
    return name == "localhost" or name.endswith(".localhost")


def name_listed(host: str, entries: Sequence[str]) -> bool:
    name = normalise_host(host)
    for entry in entries:
        if entry.startswith("*."):
            if name.endswith(entry[1:]):
                return True
        elif name == normalise_host(entry):
            return True
    return False


def address_listed(address: IPAddress, entries: Sequence[str]) -> bool:
    for entry in entries:
        try:
            network = ipaddress.ip_network(normalise_host(entry), strict=False)
        except ValueError:
            continue
        if address in network or unwrap(address) in network:
            return True
    return False


def refusal(host: str, address: IPAddress, policy: OutboundPolicy) -> str | None:
    """Why connecting to ``address`` (what ``host`` resolved to) is refused, or None if allowed."""
    if is_loopback_address(address):
        return None
    if name_listed(host, policy.allow_hosts) or address_listed(address, policy.allow_hosts):
        return None
    kind = _kind(address)
    if policy.public and kind is None:
        return None
    inner = unwrap(address)
    spelled = f"{address} ({inner})" if inner != address else str(address)
    if parse_address(host) is None:
        what = f"{normalise_host(host)} resolves to {spelled}, {kind or 'a public address'}"
    else:
        what = f"{spelled} is {kind or 'a public address'}"
    allowed = (
        "loopback, listed hosts and public addresses"
        if policy.public
        else ("loopback and listed hosts")
    )
    where = f" (list it in {policy.setting})" if policy.setting else ""
    return f"{what}; only {allowed} are reached{where}"


def allowed_addresses(
    host: str, addresses: Sequence[IPAddress], policy: OutboundPolicy
) -> list[IPAddress]:
    """The addresses of ``host`` the policy allows, in order; raises :class:`OutboundRefused`
    naming the first refused one when there are none."""
    allowed: list[IPAddress] = []
    first: str | None = None
    for address in addresses:
        reason = refusal(host, address, policy)
        if reason is None:
            allowed.append(address)
        elif first is None:
            first = reason
    if not allowed:
        raise OutboundRefused(normalise_host(host), first or "no address to connect to")
    return allowed


def may_look_up(host: str, policy: OutboundPolicy) -> bool:
    """Whether ``host`` may be resolved (or, for a literal, connected to) at all."""
    if not normalise_host(host):
        return False
    address = parse_address(host)
    if address is not None:
        return refusal(host, address, policy) is None
    return is_localhost_name(host) or name_listed(host, policy.allow_hosts) or policy.public
