"""No connection leaves loopback: the gateway in a loopback-only network namespace, under strace.

The namespace (``unshare --net --mount``, as root) has only ``lo`` and its own ``/etc/hosts``
(:data:`tests.netns_probe.HOSTS`) and ``/etc/resolv.conf``, so hostile names resolve to private
addresses and nothing could reach another machine even if the policy failed. ``strace`` records
every ``connect`` the gateway attempts; the test asserts each one is to a loopback address, over
hostile input URLs, redirect chains, webhook URLs and whole jobs (:mod:`tests.netns_probe`).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.netns_probe import HOSTILE, HOSTS

ROOT = Path(__file__).resolve().parent.parent
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def _why_not() -> str | None:
    """Why this machine cannot run the namespace test, or None when it can."""
    if sys.platform != "linux":
        return "network namespaces are Linux only"
    if os.geteuid() != 0:
        return "unshare --net needs root"
    for tool in ("unshare", "strace", "ip"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/test installs strace)"
    probe = subprocess.run(
        ["unshare", "--net", "--mount", "ip", "link", "set", "lo", "up"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if probe.returncode != 0:
        return f"this machine does not allow network namespaces: {probe.stderr.strip()}"
    return None


def connected_addresses(trace: str) -> list[str]:
    """The IPv4 and IPv6 addresses of every connect() in an ``strace -e trace=connect`` log."""
    return [v4 or v6 for v4, v6 in _ADDRESS.findall(trace)]


def non_loopback(addresses: list[str]) -> list[str]:
    """The addresses that leave the machine: only an IPv4-mapped form of 127/8 stays on it (a
    6to4 or NAT64 form of it goes to a relay or a translator)."""
    out = []
    for text in addresses:
        address = ipaddress.ip_address(text)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if not address.is_loopback:
            out.append(text)
    return out


def test_the_trace_reader_sees_both_families() -> None:
    trace = (
        '12 connect(6, {sa_family=AF_INET, sin_port=htons(80), sin_addr=inet_addr("10.0.0.1")}, '
        "16) = -1 ENETUNREACH (Network is unreachable)\n"
        "12 connect(7, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), "
        'inet_pton(AF_INET6, "::ffff:169.254.169.254", &sin6_addr), sin6_scope_id=0}, 28 '
        "<unfinished ...>\n"
        '13 connect(8, {sa_family=AF_INET, sin_port=htons(9), sin_addr=inet_addr("127.0.0.1")}, '
        "16) = 0\n"
        '13 connect(3, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1\n'
    )
    addresses = connected_addresses(trace)
    assert addresses == ["10.0.0.1", "::ffff:169.254.169.254", "127.0.0.1"]
    assert non_loopback(addresses) == ["10.0.0.1", "::ffff:169.254.169.254"]
    assert non_loopback(["::ffff:127.0.0.1", "2002:7f00:1::", "64:ff9b::7f00:1"]) == [
        "2002:7f00:1::",
        "64:ff9b::7f00:1",
    ]


@pytest.fixture(scope="module")
def namespace_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, Any]], str]:
    reason = _why_not()
    if reason is not None:
        pytest.skip(reason)
    work = tmp_path_factory.mktemp("netns")
    (work / "hosts").write_text(HOSTS)
    (work / "resolv.conf").write_text("nameserver 127.0.0.1\n")  # a lookup stays on loopback
    results, trace = work / "results.json", work / "trace.txt"
    script = (
        "set -e; ip link set lo up; "
        f"mount --bind {work / 'hosts'} /etc/hosts; "
        f"mount --bind {work / 'resolv.conf'} /etc/resolv.conf; "
        f"exec strace -f -qq -e trace=connect -o {trace} "
        f"{sys.executable} -m tests.netns_probe {results}"
    )
    run = subprocess.run(
        ["unshare", "--net", "--mount", "sh", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return json.loads(results.read_text()), trace.read_text()


def test_no_connect_is_ever_attempted_to_a_non_loopback_address(
    namespace_run: tuple[list[dict[str, Any]], str],
) -> None:
    results, trace = namespace_run
    addresses = connected_addresses(trace)
    assert "127.0.0.1" in addresses  # strace saw the loopback connects, so it would see others
    assert non_loopback(addresses) == []
    assert len(results) == 3 * 2 * (len(HOSTILE) + 1) + 2 * (len(HOSTILE) + 1) + len(HOSTILE)


def test_hostile_inputs_are_refused_on_every_hop(
    namespace_run: tuple[list[dict[str, Any]], str],
) -> None:
    results, _ = namespace_run
    inputs = [r for r in results if r["path"] == "input"]
    for case in inputs:
        if "good.test" in case["url"] and case["policy"] == "online":
            assert case.get("fetched", "").startswith("http://good.test:"), case
            continue
        assert "fetched" not in case or case["fetched"].startswith("sample:"), case
        if case["policy"] == "online":
            assert case.get("rejected", "").startswith("image_url: "), case
    online = {(c["via"], c["url"]): c.get("rejected") for c in inputs if c["policy"] == "online"}
    port = next(c["url"] for c in inputs if "good.test" in c["url"]).split(":")[2].split("/")[0]
    assert online[("redirect", f"http://evil.localhost:{port}/a.png")] == (
        "image_url: evil.localhost resolves to 10.0.0.1, a private address; only loopback, "
        "listed hosts and public addresses are reached (list it in inputs.allow_hosts)"
    )
    assert online[("direct", f"http://localhost.:{port}/a.png")] == (
        "image_url: localhost resolves to 10.0.0.2, a private address; only loopback, "
        "listed hosts and public addresses are reached (list it in inputs.allow_hosts)"
    )
    assert online[("direct", "http://169.254.169.254/latest/meta-data")] == (
        "image_url: 169.254.169.254 is a link-local address; only loopback, listed hosts and "
        "public addresses are reached (list it in inputs.allow_hosts)"
    )


def test_hostile_webhook_urls_are_journaled_as_blocked(
    namespace_run: tuple[list[dict[str, Any]], str],
) -> None:
    results, _ = namespace_run
    for case in (r for r in results if r["path"] == "webhook"):
        if "good.test" in case["url"] and case["allow_hosts"] == ["*"]:
            assert case["status"] == 204, case
        elif "answered" in case:
            assert case["answered"] == 400, case  # refused at the door: not a usable URL
        else:
            assert case["status"] is None, case
            assert case["error"].startswith("blocked: ") or (
                "not a canonical IPv4 address" in case["error"]  # aiohttp refuses to connect
            ), case


def test_jobs_with_hostile_redirects_end_failed_naming_the_field(
    namespace_run: tuple[list[dict[str, Any]], str],
) -> None:
    results, _ = namespace_run
    jobs = [r for r in results if r["path"] == "job"]
    assert len(jobs) == len(HOSTILE)
    for job in jobs:
        assert job["status"] == "FAILED", job
        assert job["error"].startswith("image_url: "), job
