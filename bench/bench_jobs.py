"""Whole jobs over loopback on a manual clock: the gateway beside a bare aiohttp server.

A client submits N jobs (POST generate, several in flight), the operator advances the manual clock
past the jobs' end (POST /_mock/clock/advance, which returns once they have COMPLETED), and the
client polls each job once (GET status). The bare aiohttp server, in its own process, answers the
very bytes the gateway answers to the same POST and GET pair (and to the advance) to the same
client. Each round runs both, in alternating order, and gives one paired ratio; the gateway is
reset between rounds. Servers run on one core and the client on another.

    python bench/bench_jobs.py [--jobs 1000,10000,100000] [--rounds 3] [--wave 10000]
        [--state memory|sqlite|redis|PATH|URL] [--memory]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    pin_self,
    pinning,
    rss_mib,
    spread,
    start_bare,
    state_option,
    stop,
)

ADVANCE = "/_mock/clock/advance"
ADVANCE_SECONDS = 10.0  # past the default 1 s queued and 2 s processing
CONFIG = textwrap.dedent(
    """
    [clock]
    mode = "manual"

    [keys]
    default_balance = "100000000"
    """
)

BARE_SERVER = textwrap.dedent(
    """
    import json, sys
    from aiohttp import web
    GENERATE, STATUS, ADVANCE = sys.argv[2:5]
    answers = json.loads(sys.stdin.buffer.read())
    created, status, advanced = (a.encode("latin-1") for a in answers)
    async def generate(request):
        await request.read()
        return web.Response(status=202, body=created, content_type="application/json")
    async def poll(request):
        return web.Response(body=status, content_type="application/json")
    async def advance(request):
        await request.read()
        return web.Response(body=advanced, content_type="application/json")
    app = web.Application()
    app.router.add_post(GENERATE, generate)
    app.router.add_get(STATUS + "{request_id}", poll)
    app.router.add_post(ADVANCE, advance)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
    """
)


# the client -----------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; far lighter than a general client, so the client's own
    cost weighs little in the figures."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
        self.writer.write(head + body)
        raw = await self.reader.readuntil(b"\r\n\r\n")
        status = int(raw[9:12])
        length = 0
        for line in raw.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


def _head(method: str, path: str, port: int, body: bytes = b"") -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Ocp-Apim-Subscription-Key: {KEY}",
    ]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


Phase = Callable[[], Coroutine[Any, Any, None]]
Measure = Callable[[str, Phase], Awaitable[None]]  # runs one phase of a wave, by its name


@dataclass
class Timings:
    submit: float = 0.0
    advance: float = 0.0
    poll: float = 0.0
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return self.submit + self.advance + self.poll


async def whole_jobs(
    port: int, jobs: int, connections: int, wave: int, measure: Measure | None = None
) -> Timings:
    """Submit ``jobs`` in waves of at most ``wave``: each wave submitted, the clock advanced, each
    of its jobs polled once; the time of each phase summed over the waves, or each phase run
    through ``measure(name, phase)`` instead (the times then stay 0). The statuses the polls
    saw are counted either way."""
    body = json.dumps(BODY).encode()
    post = _head("POST", GENERATE, port, body) + body
    advance_body = json.dumps({"seconds": ADVANCE_SECONDS}).encode()
    advance = _head("POST", ADVANCE, port, advance_body) + advance_body
    pool = [await Connection.open(port) for _ in range(connections)]
    timings = Timings()
    seen: dict[str, int] = {}

    async def timed(name: str, phase: Phase) -> None:
        started = time.perf_counter()
        await phase()
        setattr(timings, name, getattr(timings, name) + time.perf_counter() - started)

    try:
        for first in range(0, jobs, wave):
            size = min(wave, jobs - first)
            await _run_phases(pool, port, size, post, advance, seen, measure or timed)
    finally:
        for conn in pool:
            conn.close()
    timings.statuses = seen
    return timings


async def _run_phases(
    pool: list[Connection],
    port: int,
    jobs: int,
    post: bytes,
    advance: bytes,
    seen: dict[str, int],
    measure: Measure,
) -> None:
    """One wave's three phases, each run through ``measure(name, phase)``: ``jobs`` submits
    spread over ``pool``, the advance, and one poll of each job (its status counted in
    ``seen``)."""
    ids: list[str] = []
    left = iter(range(jobs))

    async def submitter(conn: Connection) -> None:
        for _ in left:
            status, answer = await conn.request(post)
            if status != 202:
                raise RuntimeError(f"generate answered {status}: {answer[:300]!r}")
            ids.append(json.loads(answer)["request_id"])

    async def submit() -> None:
        await asyncio.gather(*(submitter(c) for c in pool))

    async def advanced() -> None:
        status, answer = await pool[0].request(advance)
        if status != 200:
            raise RuntimeError(f"advance answered {status}: {answer[:300]!r}")

    heads: Iterator[bytes] = iter(())  # made between the phases, outside any measure

    async def poll() -> None:
        async def poller(conn: Connection) -> None:
            for head in heads:
                status, answer = await conn.request(head)
                if status != 200:
                    raise RuntimeError(f"status answered {status}: {answer[:300]!r}")
                found = json.loads(answer)["status"]
                seen[found] = seen.get(found, 0) + 1

        await asyncio.gather(*(poller(c) for c in pool))

    await measure("submit", submit)
    heads = iter([_head("GET", STATUS + i, port) for i in ids])
    await measure("advance", advanced)
    await measure("poll", poll)


# servers --------------------------------------------------------------------------------------


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", default="1000,10000,100000", help="job counts, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="paired rounds at each count")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--wave",
        type=int,
        default=10_000,
        help="jobs submitted before each advance (at most the retention bound, 10,000 by "
        "default: a job that ended longer ago is forgotten and its poll is a 404)",
    )
    parser.add_argument(
        "--state",
        default="memory",
        help="serve --state: memory, a SQLite path, a redis:// URL, or redis (one started here)",
    )
    parser.add_argument("--memory", action="store_true", help="RSS and a full gc pause per count")
    args = parser.parse_args()
    counts = [int(n.replace("_", "")) for n in args.jobs.split(",")]

    with (
        tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp,
        state_option(args.state, tmp) as state,
    ):
        config = Path(tmp) / "bench.toml"
        config.write_text(CONFIG)
        gateway = Gateway("--config", str(config), "--state", state, gc_file=Path(tmp) / "gc")
        try:
            run(gateway, counts, args)
        finally:
            gateway.stop()


def run(gateway: Gateway, counts: list[int], args: argparse.Namespace) -> None:
    url = gateway.url
    body = json.dumps(BODY).encode()
    created = call(url + GENERATE, body)
    request_id = json.loads(created)["request_id"]
    advance = json.dumps({"seconds": ADVANCE_SECONDS}).encode()
    advanced = call(url + ADVANCE, advance)
    status = completed_status(url, STATUS + request_id, advance)
    answers = json.dumps([a.decode("latin-1") for a in (created, status, advanced)]).encode()
    bare, bare_url = start_bare(BARE_SERVER, answers, STATUS + "x", GENERATE, STATUS, ADVANCE)
    pin_self(1)
    print(
        "whole jobs: submit, advance the manual clock, one poll each, in waves of at most "
        f"{args.wave:,}; client: {args.connections} connections; {args.rounds} paired round(s) "
        f"per count; state: {args.state}; {pinning()}"
    )
    print(f"answers: generate {len(created)} bytes, status {len(status)} bytes; {load_average()}")
    servers: dict[str, tuple[int, int, Callable[[], None]]] = {
        "bare aiohttp": (bare.pid, _port(bare_url), lambda: None),
        "mockgateway": (gateway.pid, _port(url), lambda: _reset(url)),
    }
    per_job: dict[int, list[float]] = {}
    try:
        for jobs in counts:
            rates: dict[str, list[float]] = {name: [] for name in servers}
            cpu: dict[str, list[float]] = {name: [] for name in servers}
            phases: dict[str, list[Timings]] = {name: [] for name in servers}
            memory = ""
            for round_ in range(args.rounds):
                order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
                for name in order:
                    pid, port, reset = servers[name]
                    reset()
                    before = cpu_seconds(pid)
                    timings = asyncio.run(whole_jobs(port, jobs, args.connections, args.wave))
                    used = cpu_seconds(pid) - before
                    phases[name].append(timings)
                    if name == "mockgateway":
                        if timings.statuses != {"COMPLETED": jobs}:
                            raise RuntimeError(f"jobs ended {timings.statuses}, not all COMPLETED")
                        if args.memory and round_ == args.rounds - 1:
                            pause, tracked = gateway.gc_pause()
                            memory = (
                                f"; gateway RSS {rss_mib(pid):,.0f} MiB, full gc.collect() "
                                f"{pause * 1000:,.1f} ms over {tracked:,} tracked objects"
                            )
                    rates[name].append(jobs / timings.total)
                    cpu[name].append(used / jobs * 1e6)
            ratio = [
                g / b for b, g in zip(rates["bare aiohttp"], rates["mockgateway"], strict=True)
            ]
            per_job[jobs] = [1e6 / r for r in rates["mockgateway"]]
            print(f"\n{jobs:,} jobs{memory}")
            for name in servers:
                print(
                    f"{name:>13}: {spread(rates[name], '{:,.0f}')} jobs/s; server CPU "
                    f"{spread(cpu[name], '{:,.0f}')} us per job"
                )
            for name, seen in phases.items():
                print(
                    f"{name:>13} phases, median: submit "
                    f"{spread([jobs / p.submit for p in seen], '{:,.0f}')} /s, advance "
                    f"{spread([p.advance for p in seen], '{:.3f}')} s, poll "
                    f"{spread([jobs / p.poll for p in seen], '{:,.0f}')} /s"
                )
            print(f"  ratio mockgateway / bare: {spread(ratio)}x (goal: at least 0.50x)")
        if len(per_job) > 1:
            low, high = min(per_job), max(per_job)
            ratios = [b / a for a, b in zip(per_job[low], per_job[high], strict=True)]
            print(
                f"\ncost per job at {high:,} jobs / at {low:,}: {spread(ratios)}x "
                f"(wall {spread(per_job[high], '{:,.0f}')} vs {spread(per_job[low], '{:,.0f}')} us "
                "per job; goal: within 1.20x)"
            )
    finally:
        stop(bare)


def _reset(url: str) -> None:
    call(url + "/_mock/reset", b"")


if __name__ == "__main__":
    main()
