"""Start-up time of the ``mockgateway`` command next to its baselines, side by side in one run.

Rows (each a fresh process, all rows once per round, the order rotating from round to round):

- ``python -c "import aiohttp.web"``: the baseline for the command's own answers;
- ``mockgateway --help`` and ``mockgateway --version``: goal, under a third of the baseline;
- a bare aiohttp server, launch to its first 200;
- ``mockgateway serve --port 0``, launch to the first 200 of ``/_mock/health``: goal, within 1.3x
  the bare server.

The package's bytecode is compiled first, as ``pip install`` does (aiohttp's is), so a
``PYTHONDONTWRITEBYTECODE`` development environment does not charge every run for compiling.
Processes are pinned to one core with ``taskset`` where it is available (the polling client runs
on another when there are two or more), so rows compete for the same core the same way.

    python bench/bench_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

PYTHON = sys.executable
COMMAND = str(Path(PYTHON).with_name("mockgateway"))
BARE_SERVER = """
import asyncio
from aiohttp import web

async def ok(request):
    return web.json_response({"status": "ok"})

async def main():
    app = web.Application()
    app.router.add_get("/_mock/health", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


def _pin() -> tuple[list[str], int | None]:
    """The taskset prefix for measured processes, and the core left for this process."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not shutil.which("taskset") or not cores:
        return [], None
    spare = cores[1] if len(cores) > 1 else None
    return ["taskset", "-c", str(cores[0])], spare


PREFIX, SPARE = _pin()


def _command() -> list[str]:
    return [COMMAND] if os.path.exists(COMMAND) else [PYTHON, "-m", "mockgateway"]


def run_to_exit(argv: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(PREFIX + argv, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def run_to_first_200(argv: list[str]) -> float:
    """Launch a server that prints its URL as the last word of its first line; time to a 200."""
    began = time.perf_counter()
    process = subprocess.Popen(
        PREFIX + argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1] + "/_mock/health"
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        return time.perf_counter() - began
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.001)
    finally:
        process.terminate()
        process.wait(timeout=30)


def rows() -> dict[str, Callable[[], float]]:
    cli = _command()
    return {
        "python -c 'import aiohttp.web'": lambda: run_to_exit([PYTHON, "-c", "import aiohttp.web"]),
        "mockgateway --help": lambda: run_to_exit([*cli, "--help"]),
        "mockgateway --version": lambda: run_to_exit([*cli, "--version"]),
        "bare aiohttp server, to first 200": lambda: run_to_first_200([PYTHON, "-c", BARE_SERVER]),
        "mockgateway serve, to first 200": lambda: run_to_first_200([*cli, "serve", "--port", "0"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if SPARE is not None:
        os.sched_setaffinity(0, {SPARE})
    compileall.compile_dir(str(Path(__file__).resolve().parents[1] / "mockgateway"), quiet=1)
    measured = rows()
    names = list(measured)
    for name in names:  # one unmeasured round: files in the page cache, .pyc written
        measured[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            times[name].append(measured[name]())

    def median(name: str) -> float:
        return statistics.median(times[name])

    pinned = " ".join(PREFIX) if PREFIX else "not pinned (no taskset)"
    print(f"{args.rounds} interleaved rounds, {pinned}; milliseconds, median (range)")
    for name in names:
        low, high = min(times[name]), max(times[name])
        print(f"  {name:<36} {median(name) * 1000:6.0f}  ({low * 1000:.0f}-{high * 1000:.0f})")
    base = median("python -c 'import aiohttp.web'")
    bare = median("bare aiohttp server, to first 200")
    print()
    for name, goal in (("mockgateway --help", 1 / 3), ("mockgateway --version", 1 / 3)):
        ratio = median(name) / base
        verdict = "met" if ratio < goal else "NOT met"
        print(f"  {name}: {ratio:.2f}x the aiohttp.web import (goal under {goal:.2f}x: {verdict})")
    ratio = median("mockgateway serve, to first 200") / bare
    verdict = "met" if ratio <= 1.3 else "NOT met"
    print(f"  serve to first 200: {ratio:.2f}x the bare aiohttp server (goal 1.30x: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
