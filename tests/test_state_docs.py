"""README's state commands run as written: only the port 8080 becomes a free loopback port, and
Redis's 6379 the port of a redis-server the test starts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from .gateway_process import admin, start_gateway
from .redis_server import free_port, redis_server

README = Path(__file__).resolve().parents[1] / "README.md"


def state_commands() -> list[str]:
    section = README.read_text().split("## State: memory, SQLite or Redis", 1)[1]
    block = re.search(r"```console\n(.*?)```", section, re.S)
    assert block is not None
    return [line.removeprefix("$ ") for line in block.group(1).splitlines() if line.startswith("$")]


def test_the_state_section_shows_one_command_per_durable_backend() -> None:
    commands = state_commands()
    assert [c.split("--state ")[1].split(":")[0] for c in commands] == ["mockgateway.db", "redis"]


def test_the_state_commands_serve_on_their_backend(tmp_path: Path) -> None:
    with redis_server() as redis:
        for command, backend in zip(state_commands(), ("sqlite", "redis"), strict=True):
            argv = shlex.split(command.replace("8080", str(free_port())))
            argv = [a.replace(":6379/", f":{redis.port}/") for a in argv]
            assert argv[:2] == ["mockgateway", "serve"]
            served = start_gateway(*argv[2:], cwd=tmp_path)
            try:
                assert admin(served.url, "GET", "health")["state"]["backend"] == backend
            finally:
                served.stop()
    assert (tmp_path / "mockgateway.db").exists()  # the path as written, in the working dir
