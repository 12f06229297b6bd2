"""Gateways as their own processes, as a user runs them: ``mockgateway serve`` on a free port,
stopped (or killed) by the test, and a round-robin balancer in front of several of them."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from .support import DOC_BODY, DOC_HEADERS, GENERATE_PATH, KEY


@dataclass
class Served:
    process: subprocess.Popen[str]
    url: str

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_gateway(
    *args: str,
    port: int | None = 0,
    timeout: float = 30.0,
    cwd: Path | None = None,
    preexec: Callable[[], None] | None = None,
) -> Served:
    """``mockgateway serve`` with ``args`` (``--port port`` first unless None); returns once it
    prints its URL. ``preexec`` runs in the child before it starts (limits, say)."""
    ports = [] if port is None or "--port" in args else ["--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", *ports, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        preexec_fn=preexec,
    )
    assert process.stdout is not None
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout)
    if not ready or not ready[0].startswith("mockgateway listening on "):
        process.kill()
        _, err = process.communicate(timeout=10)
        raise AssertionError(f"the gateway did not start: {ready!r} {err[-3000:]}")
    threading.Thread(target=process.stdout.read, daemon=True).start()  # keep the pipe drained
    return Served(process, ready[0].split()[-1])


def run_serve(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """``mockgateway serve`` expected to stop by itself (a refusal)."""
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def call(
    url: str,
    method: str = "GET",
    body: Any = None,
    *,
    key: str | None = KEY,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> tuple[int, Any]:
    """One request on a fresh connection; the status and the JSON body."""
    sent = {**DOC_HEADERS, **(headers or {})}
    if key is not None:
        sent["Ocp-Apim-Subscription-Key"] = key
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        return error.code, json.loads(raw) if raw.startswith(b"{") else raw


def submit(base: str, headers: dict[str, str] | None = None, key: str = KEY) -> tuple[int, Any]:
    return call(base + GENERATE_PATH, "POST", DOC_BODY, key=key, headers=headers)


def admin(base: str, method: str, path: str, body: Any = None) -> Any:
    status, answer = call(f"{base}/_mock/{path}", method, body, key=None)
    assert status == 200, (status, answer)
    return answer


def eventually(check: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll ``check`` (real time: these are whole processes) until it returns something true."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {value!r}")
        time.sleep(interval)


@dataclass
class Hook:
    """A webhook receiver on loopback, in a thread: records every body; answers ``status``."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    status: int = 200
    hold: threading.Event | None = None  # when set up, requests wait for it before answering

    def ended(self) -> dict[str, dict[str, Any]]:
        return {b["request_id"]: b for b in list(self.bodies) if b.get("status") == "COMPLETED"}


@contextlib.contextmanager
def webhook_receiver(status: int = 200) -> Iterator[Hook]:
    hook = Hook(status=status)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(size))
            if hook.hold is not None:
                hook.hold.wait(30)
            hook.bodies.append(body)
            self.send_response(hook.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        if hook.hold is not None:
            hook.hold.set()
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def round_robin(targets: list[str]) -> Iterator[str]:
    """A TCP balancer on loopback: each new connection goes to the next target, in turn."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    turn = [0]
    addresses = [t.removeprefix("http://").rsplit(":", 1) for t in targets]

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while chunk := src.recv(65536):
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            host, port = addresses[turn[0] % len(addresses)]
            turn[0] += 1
            try:
                upstream = socket.create_connection((host, int(port)), timeout=10)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path
