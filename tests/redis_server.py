"""A real ``redis-server`` on a free loopback port, started and stopped by the tests themselves.

The test command installs Debian's ``redis-server`` where it is missing; a machine without it fails
the tests that need it rather than skipping them.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]
    workdir: str  # its working directory, removed when it stops

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(port: int | None = None, timeout: float = 10.0) -> RedisServer:
    """Start ``redis-server`` on loopback (no persistence) and wait until it answers PING."""
    binary = shutil.which("redis-server")
    assert binary, (
        "redis-server is missing: the test command installs it (apt-get install redis-server)"
    )
    port = port or free_port()
    workdir = tempfile.mkdtemp(prefix="mockgateway-redis-")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            workdir,
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = RedisServer(port, process, workdir)
    deadline = time.monotonic() + timeout
    while not server.ping():
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.02)
    return server


@contextlib.contextmanager
def redis_server(port: int | None = None) -> Iterator[RedisServer]:
    server = start_redis(port)
    try:
        yield server
    finally:
        server.stop()
