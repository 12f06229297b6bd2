"""Status-poll throughput: the gateway (journal on) against a bare aiohttp handler, side by side.

Both servers run as separate processes on loopback; the bare one answers the very bytes the
gateway's status endpoint answers. Each round loads both, one after the other (the order alternates
from round to round), and yields one paired ratio, so drift on the machine hits both sides of a
pair; the verdict is the median of the paired ratios. On a machine with two or more cores the
servers run on one core and the load generator on another. Load comes from ``wrk`` when installed
(``apt-get install wrk``), else from an aiohttp client pool.

    python bench/bench_status_poll.py [--rounds 10] [--seconds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

KEY = "bench-key-0001"
BODY = {
    "image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
    "audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
    "resolution": "1080p",
}
GENERATE = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"

BARE_SERVER = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    body = sys.stdin.buffer.read()
    async def status(request):
        return web.Response(body=body, content_type="application/json")
    app = web.Application()
    app.router.add_get("/v2/requests/status/{request_id}", status)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


def _cores() -> tuple[set[int], set[int]] | None:
    """One core for the servers and another for the load generator, when there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, {cores[1]}) if len(cores) >= 2 else None


CORES = _cores()


def _pin(which: int) -> Callable[[], None] | None:
    if CORES is None:
        return None
    cores = CORES[which]
    return lambda: os.sched_setaffinity(0, cores)


def start_gateway(*extra: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=_pin(0),
    )
    assert process.stdout is not None
    return process, process.stdout.readline().split()[-1]


def start_bare(body: bytes) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_SERVER, str(port)], stdin=subprocess.PIPE, preexec_fn=_pin(0)
    )
    assert process.stdin is not None
    process.stdin.write(body)
    process.stdin.close()
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/v2/requests/status/x", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    return process, url


def call(url: str, data: bytes | None = None) -> bytes:
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Ocp-Apim-Subscription-Key": KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), robust to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(url: str, seconds: float, connections: int) -> float:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "-H",
            f"Ocp-Apim-Subscription-Key: {KEY}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=_pin(1),
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers during the bench:\n{out}")
    return float(match.group(1))


def run_python_load(url: str, seconds: float, connections: int) -> float:
    import aiohttp

    pin = _pin(1)
    if pin is not None:
        pin()

    async def main() -> float:
        done = 0
        stop = time.monotonic() + seconds
        async with aiohttp.ClientSession(headers={"Ocp-Apim-Subscription-Key": KEY}) as session:

            async def worker() -> None:
                nonlocal done
                while time.monotonic() < stop:
                    async with session.get(url) as response:
                        await response.read()
                        assert response.status == 200
                    done += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
        return done / seconds

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--config", help="a gateway configuration file (default: none)")
    args = parser.parse_args()

    gateway, gw_url = start_gateway(*(["--config", args.config] if args.config else []))
    created = json.loads(call(gw_url + GENERATE, json.dumps(BODY).encode()))
    status_path = "/v2/requests/status/" + created["request_id"]
    time.sleep(3.5)  # let the job complete so both answer the same final body
    body = call(gw_url + status_path)
    bare, bare_url = start_bare(body)
    assert call(bare_url + status_path) == body
    load = run_wrk if shutil.which("wrk") else run_python_load
    servers = {"bare aiohttp": (bare, bare_url), "mockgateway": (gateway, gw_url)}
    rates: dict[str, list[float]] = {name: [] for name in servers}
    costs: dict[str, list[float]] = {name: [] for name in servers}
    try:
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                process, url = servers[name]
                before = cpu_seconds(process.pid)
                rate = load(url + status_path, args.seconds, args.connections)
                used = cpu_seconds(process.pid) - before
                rates[name].append(rate)
                costs[name].append(used / (rate * args.seconds) * 1e6)
        health = json.loads(call(gw_url + "/_mock/health"))
    finally:
        for process, _url in servers.values():
            process.terminate()
            process.wait(timeout=10)
    pinned = "unpinned"
    if CORES is not None:
        pinned = f"servers on core {min(CORES[0])}, load on core {min(CORES[1])}"
    print(
        f"load generator: {'wrk' if load is run_wrk else 'aiohttp client'}, "
        f"{args.connections} connections, {args.rounds} x {args.seconds:g} s paired rounds; "
        + pinned
    )
    journal = health["journal"]
    kept = (
        f"journal on, {journal['entries']:,} of {journal['max_entries']:,} entries kept, "
        f"{journal['dropped']:,} dropped"
        if journal["enabled"]
        else "journal off"
    )
    print(f"response: {len(body)} bytes; gateway {kept}, {health['jobs']} job(s)")
    for name in servers:
        shown = ", ".join(f"{v:,.0f}" for v in rates[name])
        print(
            f"{name:>13}: median {statistics.median(rates[name]):>9,.0f} req/s ({shown}); "
            f"{statistics.median(costs[name]):.1f} us of server CPU per request"
        )
    pairs = zip(rates["bare aiohttp"], rates["mockgateway"], strict=True)
    throughput = sorted(gw / bare for bare, gw in pairs)
    pairs = zip(costs["bare aiohttp"], costs["mockgateway"], strict=True)
    cpu = sorted(bare / gw for bare, gw in pairs)
    print(
        f"paired ratios, median (range): throughput mockgateway / bare "
        f"{statistics.median(throughput):.2f}x ({throughput[0]:.2f}-{throughput[-1]:.2f}); "
        f"CPU cost bare / mockgateway {statistics.median(cpu):.2f}x ({cpu[0]:.2f}-{cpu[-1]:.2f}) "
        "(goal: at least 0.80x)"
    )


if __name__ == "__main__":
    main()
