"""What the side-by-side benchmarks share: pinning, starting the two servers, reading a process.

With two or more cores the servers run on the first and the load generator on the second, so
the two never compete for a core. The gateway runs as ``mockgateway serve`` in a wrapper that also
answers SIGUSR1 with a timed full garbage collection written to a file, so a bench can measure
collector pauses inside the gateway process without any operator endpoint.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

KEY = "bench-key-0001"
BODY = {
    "image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
    "audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
    "resolution": "1080p",
}
GENERATE = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
STATUS = "/v2/requests/status/"

# `mockgateway serve` with a SIGUSR1 handler: a full gc.collect(), timed, appended to a file
GATEWAY = textwrap.dedent(
    """
    import gc, json, os, runpy, signal, sys, time
    out = os.environ["MOCKGATEWAY_BENCH_GC"]
    def collect(signum, frame):
        started = time.perf_counter()
        gc.collect()
        pause = time.perf_counter() - started
        with open(out, "a") as f:
            f.write(json.dumps({"pause": pause, "tracked": len(gc.get_objects())}) + "\\n")
    signal.signal(signal.SIGUSR1, collect)
    sys.argv = ["mockgateway", "serve", *sys.argv[1:]]
    runpy.run_module("mockgateway", run_name="__main__", alter_sys=True)
    """
)


def _cores() -> tuple[set[int], set[int]] | None:
    """One core for the servers and another for the load generator, when there are two."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cores = sorted(os.sched_getaffinity(0))
    return ({cores[0]}, {cores[1]}) if len(cores) >= 2 else None


CORES = _cores()


def pin(which: int) -> Callable[[], None] | None:
    """A ``preexec_fn`` putting a child on the servers' core (0) or the load's core (1)."""
    if CORES is None:
        return None
    cores = CORES[which]
    return lambda: os.sched_setaffinity(0, cores)


def pin_self(which: int) -> None:
    if CORES is not None:
        os.sched_setaffinity(0, CORES[which])


def pinning() -> str:
    if CORES is None:
        return "unpinned"
    return f"servers on core {min(CORES[0])}, load on core {min(CORES[1])}"


class Gateway:
    """A ``mockgateway serve`` process on a free loopback port, pinned to the servers' core."""

    def __init__(self, *extra: str, gc_file: Path) -> None:
        self.gc_file = gc_file
        env = {**os.environ, "MOCKGATEWAY_BENCH_GC": str(gc_file)}
        self.process = subprocess.Popen(
            [sys.executable, "-c", GATEWAY, "--port", "0", *extra],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            preexec_fn=pin(0),
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the gateway did not start (see its error above)")
        self.url = line.split()[-1]

    @property
    def pid(self) -> int:
        return self.process.pid

    def gc_pause(self) -> tuple[float, int]:
        """A full collection inside the gateway: its pause in seconds and the objects tracked."""
        import json

        before = self.gc_file.read_text().count("\n") if self.gc_file.exists() else 0
        os.kill(self.pid, signal.SIGUSR1)
        for _ in range(600):
            if self.gc_file.exists():
                lines = self.gc_file.read_text().splitlines()
                if len(lines) > before:
                    found = json.loads(lines[-1])
                    return float(found["pause"]), int(found["tracked"])
            time.sleep(0.05)
        raise RuntimeError("the gateway did not answer SIGUSR1")

    def stop(self) -> None:
        stop(self.process)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_bare(
    script: str, stdin: bytes, ready_path: str, *args: str
) -> tuple[subprocess.Popen[bytes], str]:
    """A bare aiohttp server (``script`` takes its port as argv[1], then ``args``, and its
    answers on stdin), pinned to the servers' core, once ``ready_path`` answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", script, str(port), *args], stdin=subprocess.PIPE, preexec_fn=pin(0)
    )
    assert process.stdin is not None
    process.stdin.write(stdin)
    process.stdin.close()
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + ready_path, timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    return process, url


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def call(url: str, data: bytes | None = None, key: str = KEY) -> bytes:
    request = urllib.request.Request(
        url,
        data=data,
        headers={"Ocp-Apim-Subscription-Key": key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return bytes(response.read())


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux), robust to other load on the machine."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """A process's resident set size (VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def spread(values: Sequence[float], fmt: str = "{:.2f}") -> str:
    """``median (min-max)`` of a sample."""
    ordered = sorted(values)
    low, mid, high = (fmt.format(v) for v in (ordered[0], statistics.median(ordered), ordered[-1]))
    return f"{mid} ({low}-{high})"


def load_average() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} at start on {os.cpu_count()} cores"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway ``redis-server`` on a free loopback port (no persistence); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("--state redis needs redis-server (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as workdir:
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
            stdout=subprocess.DEVNULL,
            preexec_fn=pin(0),
        )
        try:
            for _ in range(200):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", port), timeout=0.5) as s,
                ):
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
                time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            stop(process)


@contextlib.contextmanager
def state_option(option: str, tmp: str) -> Iterator[str]:
    """``--state`` for the gateway: as given, with ``sqlite`` a new file in ``tmp`` and ``redis``
    a server started here (on the servers' core) for the run."""
    if option == "redis":
        with redis_server() as url:
            yield url
    elif option == "sqlite":
        yield str(Path(tmp) / "bench.db")
    else:
        yield option


def completed_status(url: str, status_path: str, advance: bytes | None) -> bytes:
    """The job's final status body, advancing a manual clock (``advance``: its body) until the
    job has COMPLETED: a store shared by replicas may finish it a moment after the advance."""
    import json

    for _ in range(100):
        if advance is not None:
            call(url + "/_mock/clock/advance", advance)
        body = call(url + status_path)
        if json.loads(body)["status"] == "COMPLETED":
            return body
        time.sleep(0.1)
    raise RuntimeError(f"the job did not complete: {body[:300]!r}")
