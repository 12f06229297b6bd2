"""Processes for the proxy's end-to-end tests: an upstream gateway of ours (drifting through
tests/drift_upstream.py when asked) and the proxy, each its own process on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
DRIFT_UPSTREAM = ROOT / "tests" / "drift_upstream.py"
MODEL_ID = "bytedance-omnihuman-v1-5-290"
GENERATE_PATH = f"/{MODEL_ID}/v1/bytedance-omnihuman-v1-5-request"
KEY = "team-secret-key-7788"
BODY = {
    "image_url": "https://example.com/portrait.png",
    "audio_url": "https://example.com/speech.mp3",
    "resolution": "480p",
}
HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
FAST_UPSTREAM = """
[clock]
mode = "scaled"
speed = 100
[media]
mode = "sample"
"""


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[str]
    first_line: str

    def stop(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """SIGTERM, then what it printed after its first line and its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
        return self.proc.returncode, out, err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start(argv: list[str], cwd: Path = ROOT) -> Served:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"{argv} did not start: {err}")
    url = next(w for w in line.split() if w.startswith("http"))
    return Served(url=url.rstrip(), proc=proc, first_line=line)


@contextlib.contextmanager
def upstream(
    tmp: Path, config: str = FAST_UPSTREAM, rewrites: dict[str, Any] | None = None
) -> Iterator[Served]:
    """Our gateway as its own process; with ``rewrites``, through the drifting wrapper."""
    path = tmp / f"upstream-{time.monotonic_ns()}.toml"
    path.write_text(config)
    serve = ["serve", "--port", "0", "--config", str(path)]
    if rewrites is None:
        argv = [sys.executable, "-m", "mockgateway", *serve]
    else:
        argv = [sys.executable, str(DRIFT_UPSTREAM), json.dumps(rewrites), *serve]
    served = _start(argv)
    try:
        yield served
    finally:
        served.stop()


@contextlib.contextmanager
def proxy(upstream_url: str, *options: str, port: int = 0) -> Iterator[Served]:
    """``mockgateway proxy --upstream URL`` as its own process; stopped by SIGTERM at the end
    unless the test stopped it (to read what it printed)."""
    argv = [sys.executable, "-m", "mockgateway", "proxy", "--upstream", upstream_url,
            "--port", str(port), *options]  # fmt: skip
    served = _start(argv)
    try:
        yield served
    finally:
        served.stop()


def session() -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # loopback only, never an environment proxy
    return s


def key_headers(key: str = KEY) -> dict[str, str]:
    return {**HEADERS, "Ocp-Apim-Subscription-Key": key}


def generate(
    s: requests.Session, base: str, key: str = KEY, body: dict[str, Any] | None = None,
    **headers: str,
) -> requests.Response:  # fmt: skip
    return s.post(
        base + GENERATE_PATH, json=body or BODY, headers={**key_headers(key), **headers},
        timeout=30,
    )  # fmt: skip


def poll_until_done(
    s: requests.Session, polling_url: str, key: str = KEY, *, pause: float = 0.02,
    limit: float = 30.0,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every status body seen until a terminal one (statuses compared case-insensitively)."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        answer = s.get(polling_url, headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)
        if answer.status_code == 200:
            body = answer.json()
            seen.append(body)
            if str(body.get("status", "")).upper() in ("COMPLETED", "FAILED", "ERROR"):
                return seen
        time.sleep(pause)
    raise AssertionError(f"no terminal status within {limit} s: {seen[-3:]}")


def wait_for(predicate: Any, limit: float = 20.0, pause: float = 0.05) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError("condition not met in time")
