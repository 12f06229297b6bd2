"""Status-poll throughput: the gateway (journal on) against a bare aiohttp handler, side by side.

Both servers run as separate processes on loopback; the bare one answers the very bytes the
gateway's status endpoint answers. Each round loads both, one after the other (the order alternates
from round to round), and yields one paired ratio, so drift on the machine hits both sides of a
pair; the verdict is the median of the paired ratios, at each number of connections. On a machine
with two or more cores the servers run on one core and the load generator on another. Load comes
from ``wrk`` when installed (``apt-get install wrk``), else from an aiohttp client pool.

    python bench/bench_status_poll.py [--rounds 10] [--seconds 2] [--connections 16,32,64]
        [--state memory|sqlite|redis|PATH|URL] [--config FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    BODY,
    GENERATE,
    KEY,
    STATUS,
    Gateway,
    call,
    completed_status,
    cpu_seconds,
    load_average,
    pin,
    pin_self,
    pinning,
    start_bare,
    state_option,
    stop,
)

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
MANUAL = '[clock]\nmode = "manual"\n'


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
        preexec_fn=pin(1),
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers during the bench:\n{out}")
    return float(match.group(1))


def run_python_load(url: str, seconds: float, connections: int) -> float:
    import aiohttp

    pin_self(1)

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
    parser.add_argument("--connections", default="16,32,64", help="comma-separated")
    parser.add_argument("--config", help="a gateway configuration file (default: a manual clock)")
    parser.add_argument(
        "--state",
        default="memory",
        help="serve --state: memory, sqlite (a new file), redis (a server started here), "
        "a SQLite path or a redis:// URL",
    )
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp,
        state_option(args.state, tmp) as state,
    ):
        config = args.config
        if config is None:
            config = str(Path(tmp) / "manual.toml")
            Path(config).write_text(MANUAL)
        gateway = Gateway("--config", config, "--state", state, gc_file=Path(tmp) / "gc")
        try:
            run(gateway, connections, args)
        finally:
            gateway.stop()


def run(gateway: Gateway, connections: list[int], args: argparse.Namespace) -> None:
    gw_url = gateway.url
    created = json.loads(call(gw_url + GENERATE, json.dumps(BODY).encode()))
    status_path = STATUS + created["request_id"]
    manual = json.loads(call(gw_url + "/_mock/clock"))["mode"] == "manual"
    if not manual:
        time.sleep(3.5)  # the job completes, so both answer the same final body
    body = completed_status(gw_url, status_path, b'{"seconds": 10}' if manual else None)
    bare, bare_url = start_bare(BARE_SERVER, body, STATUS + "x")
    assert call(bare_url + status_path) == body
    load = run_wrk if shutil.which("wrk") else run_python_load
    servers = {"bare aiohttp": (bare.pid, bare_url), "mockgateway": (gateway.pid, gw_url)}
    print(
        f"load generator: {'wrk' if load is run_wrk else 'aiohttp client'}, "
        f"{args.rounds} x {args.seconds:g} s paired rounds at each of {args.connections} "
        f"connections; state: {args.state}; {pinning()}; {load_average()}"
    )
    try:
        for conns in connections:
            rates: dict[str, list[float]] = {name: [] for name in servers}
            costs: dict[str, list[float]] = {name: [] for name in servers}
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    pid, url = servers[name]
                    before = cpu_seconds(pid)
                    rate = load(url + status_path, args.seconds, conns)
                    used = cpu_seconds(pid) - before
                    rates[name].append(rate)
                    costs[name].append(used / (rate * args.seconds) * 1e6)
            report(conns, rates, costs)
        health = json.loads(call(gw_url + "/_mock/health"))
    finally:
        stop(bare)
    journal = health["journal"]
    kept = (
        f"journal on, {journal['entries']:,} of {journal['max_entries']:,} entries kept, "
        f"{journal['dropped']:,} dropped"
        if journal["enabled"]
        else "journal off"
    )
    print(f"\nresponse: {len(body)} bytes; gateway {kept}, {health['jobs']} job(s)")


def report(conns: int, rates: dict[str, list[float]], costs: dict[str, list[float]]) -> None:
    print(f"\n{conns} connections")
    for name in rates:
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
