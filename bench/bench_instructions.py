"""Instructions per status poll and per whole job: the gateway (journal on) against a bare
aiohttp server, both under Valgrind's callgrind, side by side.

Time on a shared machine moves by a fifth from one round to the next; the instructions a server
executes per request do not (two runs agree within a thousandth). Both servers run under
``valgrind --tool=callgrind`` (``apt-get install valgrind``); the bare one answers the very bytes
the gateway's status endpoint answers. For each number of connections, each server's counters are
zeroed after a warm-up, a fixed number of polls is sent (a keep-alive client of its own, spread
over the connections), and the counters are read: instructions per request, and their ratio.
Then whole jobs as ``bench_jobs.py`` runs them (submit, advance the manual clock, one poll each;
16 connections), against the bare server of ``bench_jobs.py`` answering the same bytes: the
instructions per job. Instructions are not time (a cache miss costs many, and the kernel's work
is not counted), so this sits beside ``bench_status_poll.py`` and ``bench_jobs.py``, which
measure time, and does not replace them.

    python bench/bench_instructions.py [--requests 2000] [--connections 1,32,64] [--jobs 1000]

The whole jobs are then counted once more phase by phase (the submits, the advance, the polls),
so that what a change saves shows where it is saved.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BODY, GENERATE, KEY, STATUS, call, completed_status, free_port, stop
from bench_jobs import ADVANCE, ADVANCE_SECONDS, CONFIG, Phase, Timings, whole_jobs
from bench_jobs import BARE_SERVER as JOBS_SERVER
from bench_status_poll import BARE_SERVER


def under_callgrind(
    out: Path, command: list[str], stdin: bytes | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin)
        process.stdin.close()
    return process


def wait_ready(url: str) -> None:
    for _ in range(1200):  # a Python start under Valgrind takes tens of seconds
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


async def one_wave(port: int, jobs: int) -> None:
    """``jobs`` whole jobs in one wave, as ``bench_jobs.py`` runs them (16 connections)."""
    completed(await whole_jobs(port, jobs, 16, jobs))


async def phases(
    process: subprocess.Popen[bytes], out: Path, port: int, jobs: int
) -> dict[str, int]:
    """The instructions ``process`` executes in each phase of ``jobs`` whole jobs (submit,
    advance, poll), run as :func:`one_wave` runs them."""
    counts: dict[str, int] = {}

    async def count(name: str, phase: Phase) -> None:
        zero(process)
        await phase()
        counts[name] = read_count(process, out)

    completed(await whole_jobs(port, jobs, 16, jobs, count))
    return counts


def completed(timings: Timings) -> None:
    """Every job must end COMPLETED: one refused for its wallet costs less than one that ran."""
    if set(timings.statuses) - {"COMPLETED"}:
        raise RuntimeError(f"jobs ended {timings.statuses}, not all COMPLETED")


async def polls(port: int, count: int, *, path: str, connections: int) -> None:
    """``count`` keep-alive GETs of ``path``, spread over ``connections``; each answer read."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOcp-Apim-Subscription-Key: {KEY}\r\n\r\n"
    ).encode()
    left = count

    async def worker() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while left > 0:
            left -= 1
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            start = head.lower().index(b"content-length:") + len(b"content-length:")
            await reader.readexactly(int(head[start : head.index(b"\r\n", start)]))
        writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))


def counted(process: subprocess.Popen[bytes], out: Path, run: Coroutine[Any, Any, Any]) -> int:
    """The instructions ``process`` executed while ``run`` (a coroutine) ran."""
    zero(process)
    asyncio.run(run)
    return read_count(process, out)


def zero(process: subprocess.Popen[bytes]) -> None:
    subprocess.run(["callgrind_control", "-z", str(process.pid)], check=True, capture_output=True)


def read_count(process: subprocess.Popen[bytes], out: Path) -> int:
    """The instructions ``process`` executed since its counters were last zeroed."""
    before = set(glob.glob(f"{out}.*"))
    subprocess.run(["callgrind_control", "-d", str(process.pid)], check=True, capture_output=True)
    for _ in range(600):
        new = set(glob.glob(f"{out}.*")) - before
        for name in new:
            text = Path(name).read_text(errors="replace")
            for line in text.splitlines():
                if line.startswith("summary:"):
                    os.unlink(name)
                    return int(line.split()[1])
        time.sleep(0.05)
    raise RuntimeError("callgrind wrote no dump")


Servers = dict[str, tuple[subprocess.Popen[bytes], Path, int]]


def side_by_side(
    servers: Servers, load: Callable[[int, int], Coroutine[Any, Any, Any]], count: int, what: str
) -> None:
    """Each server's instructions per unit of ``load(port, units)`` (``count`` units, after a
    warm-up of a tenth as many), shown with the ratio, bare / gateway."""
    per: dict[str, float] = {}
    for name, (process, out, port) in servers.items():
        asyncio.run(load(port, max(1, count // 10)))  # not counted
        per[name] = counted(process, out, load(port, count)) / count
    bare_ir, gw_ir = per["bare aiohttp"], per["mockgateway"]
    print(
        f"{what}: bare aiohttp {bare_ir:,.0f}, mockgateway {gw_ir:,.0f} instructions each; "
        f"bare / mockgateway {bare_ir / gw_ir:.3f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", default="1,32,64", help="comma-separated")
    parser.add_argument("--jobs", type=int, default=1000, help="whole jobs (0: none)")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    connections = [int(c) for c in args.connections.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-instr-") as tmp:
        config = Path(tmp) / "manual.toml"
        config.write_text(CONFIG)  # bench_jobs.py's: a manual clock, wallets that cover every job
        gw_port, bare_port = free_port(), free_port()
        gw_out, bare_out = Path(tmp) / "gateway.cg", Path(tmp) / "bare.cg"
        gateway = under_callgrind(
            gw_out,
            [
                sys.executable,
                "-m",
                "mockgateway",
                "serve",
                "--config",
                str(config),
                "--port",
                str(gw_port),
            ],
        )
        bare = jobs_bare = None
        try:
            gw_url = f"http://127.0.0.1:{gw_port}"
            wait_ready(gw_url + "/_mock/health")
            created = json.loads(call(gw_url + GENERATE, json.dumps(BODY).encode()))
            path = STATUS + created["request_id"]
            body = completed_status(gw_url, path, b'{"seconds": 10}')
            bare = under_callgrind(
                bare_out, [sys.executable, "-c", BARE_SERVER, str(bare_port)], stdin=body
            )
            wait_ready(f"http://127.0.0.1:{bare_port}{path}")
            print(
                f"instructions per status poll under callgrind, {args.requests:,} polls per "
                f"count; response: {len(body)} bytes; gateway journal on"
            )
            servers: Servers = {
                "bare aiohttp": (bare, bare_out, bare_port),
                "mockgateway": (gateway, gw_out, gw_port),
            }
            for conns in connections:
                side_by_side(
                    servers,
                    functools.partial(polls, path=path, connections=conns),
                    args.requests,
                    f"{conns:>3} connections, per poll",
                )
            if args.jobs:
                jobs_port = free_port()
                advance = json.dumps({"seconds": ADVANCE_SECONDS}).encode()
                created = call(gw_url + GENERATE, json.dumps(BODY).encode())
                advanced = call(gw_url + ADVANCE, advance)
                answers = [a.decode("latin-1") for a in (created, body, advanced)]
                jobs_bare = under_callgrind(
                    Path(tmp) / "jobs.cg",
                    [sys.executable, "-c", JOBS_SERVER, str(jobs_port), GENERATE, STATUS, ADVANCE],
                    stdin=json.dumps(answers).encode(),
                )
                wait_ready(f"http://127.0.0.1:{jobs_port}{path}")
                jobs_servers: Servers = {
                    "bare aiohttp": (jobs_bare, Path(tmp) / "jobs.cg", jobs_port),
                    "mockgateway": (gateway, gw_out, gw_port),
                }
                side_by_side(
                    jobs_servers,
                    one_wave,
                    args.jobs,
                    f"{args.jobs:,} whole jobs, 16 connections, per job",
                )
                print(f"{args.jobs:,} whole jobs by phase, instructions per job:")
                for name, (server, out, port) in jobs_servers.items():
                    split = asyncio.run(phases(server, out, port, args.jobs))
                    shown = ", ".join(f"{p} {n / args.jobs:,.0f}" for p, n in split.items())
                    print(f"  {name:>13}: {shown}")
        finally:
            for process in (gateway, bare, jobs_bare):
                if process is not None:
                    stop(process)


if __name__ == "__main__":
    main()
