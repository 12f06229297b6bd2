"""``mockgateway serve``'s arguments and environment, run as a user runs them: a bad value is a
usage error (exit 2) naming the option or variable, never a traceback; a busy port is one line
(exit 1)."""

from __future__ import annotations

import argparse
import ast
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockgateway._cli import host_name, port_number

PACKAGE = Path(__file__).resolve().parents[1] / "mockgateway"
USAGE = "usage: mockgateway serve"


def run_serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "serve", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**environ, **(env or {})},
    )


def assert_usage_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(USAGE), result.stderr
    error = result.stderr.splitlines()[-1]
    assert error.startswith("mockgateway serve: error: "), result.stderr
    for text in expected:
        assert text in error, (text, error)
    assert result.stdout == ""


@pytest.fixture
def garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.pem"
    path.write_text("not a certificate\n")
    return path


BAD_ARGUMENTS = {
    "port too high": (["--port", "99999"], ["argument --port", "0 to 65535", "'99999'"]),
    "port negative": (["--port", "-1"], ["argument --port", "'-1'"]),
    "port not a number": (["--port", "eighty"], ["argument --port", "'eighty'"]),
    "host with a space": (["--host", "bad host!"], ["argument --host", "'bad host!'"]),
    "host not an address": (["--host", "999.1.1.1"], ["argument --host", "'999.1.1.1'"]),
    "config missing": (["--config", "{tmp}/missing.toml"], ["argument --config", "missing.toml"]),
    "config a directory": (["--config", "{tmp}"], ["argument --config", "Is a directory"]),
    "cert not a certificate": (["--cert", "{garbage}"], ["--cert", "garbage.pem", "PEM"]),
    "cert missing": (["--cert", "{tmp}/nope.pem"], ["argument --cert", "nope.pem"]),
    "key without cert": (["--key", "{garbage}"], ["--key goes with --cert"]),
    "ca-file without --tls": (["--ca-file", "{tmp}/ca.pem"], ["--ca-file needs --tls"]),
    "ca-file in no directory": (
        ["--tls", "--ca-file", "{tmp}/no/such/dir/ca.pem"],
        ["argument --ca-file", "no directory"],
    ),
    "ca-file with cert": (
        ["--tls", "--ca-file", "{tmp}/ca.pem", "--cert", "{garbage}"],
        ["--ca-file writes the local CA"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_a_bad_argument_is_a_usage_error_naming_it(
    case: str, tmp_path: Path, garbage: Path
) -> None:
    args, expected = BAD_ARGUMENTS[case]
    shown = [a.format(tmp=tmp_path, garbage=garbage) for a in args]
    assert_usage_error(run_serve(*shown), *expected)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MOCKGATEWAY_PORT", "99999", "0 to 65535"),
        ("MOCKGATEWAY_PORT", "http", "'http'"),
        ("MOCKGATEWAY_HOST", "no such host!", "'no such host!'"),
        ("MOCKGATEWAY_CONFIG", "/nonexistent/gateway.toml", "No such file"),
    ],
)
def test_a_bad_variable_is_a_usage_error_naming_it(
    variable: str, value: str, expected: str
) -> None:
    result = run_serve(env={variable: value})
    assert_usage_error(result, f"error: {variable}: ", expected)


# a gateway started from the environment ---------------------------------------------------------


@pytest.fixture
def manual_clock_config(tmp_path: Path) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text('[clock]\nmode = "manual"\n')
    return path


def start(*args: str, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**environ, **env},
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    if not first.startswith("mockgateway listening on "):
        process.kill()
        _out, err = process.communicate(timeout=15)
        pytest.fail(f"did not start: {first!r} {err}")
    return process, first.split()[-1]


@contextlib.contextmanager
def started(*args: str, env: dict[str, str]) -> Iterator[str]:
    process, url = start(*args, env=env)
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        _out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err


def health(url: str) -> dict[str, object]:
    with urllib.request.urlopen(f"{url}/_mock/health", timeout=10) as response:
        answer: dict[str, object] = json.load(response)
        return answer


def test_the_environment_gives_config_host_and_port(manual_clock_config: Path) -> None:
    env = {
        "MOCKGATEWAY_CONFIG": str(manual_clock_config),
        "MOCKGATEWAY_HOST": "127.0.0.2",  # loopback, but not the default
        "MOCKGATEWAY_PORT": "0",
    }
    with started(env=env) as url:
        assert url.startswith("http://127.0.0.2:")
        assert health(url)["clock"]["mode"] == "manual"  # type: ignore[index]


def test_a_flag_wins_over_its_variable_which_is_then_not_read(tmp_path: Path) -> None:
    env = {
        "MOCKGATEWAY_CONFIG": str(tmp_path / "missing.toml"),  # would be a usage error if read
        "MOCKGATEWAY_HOST": "bad host!",
        "MOCKGATEWAY_PORT": "99999",
    }
    config = tmp_path / "real.toml"
    config.write_text('[clock]\nmode = "manual"\n')
    with started("--config", str(config), "--host", "127.0.0.1", "--port", "0", env=env) as url:
        assert url.startswith("http://127.0.0.1:")
        assert health(url)["clock"]["mode"] == "manual"  # type: ignore[index]


def test_an_empty_variable_counts_as_unset() -> None:
    env = {"MOCKGATEWAY_CONFIG": "", "MOCKGATEWAY_HOST": ""}
    with started("--port", "0", env=env) as url:
        assert url.startswith("http://127.0.0.1:")


def test_a_busy_port_is_one_line_naming_it_with_exit_1() -> None:
    with started("--port", "0", env={}) as url:
        port = url.rsplit(":", 1)[1]
        result = run_serve("--port", port)
    assert result.returncode == 1
    assert result.stderr == (
        f"mockgateway: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )


def test_listen_errors_say_why() -> None:
    from mockgateway._serve_command import _listen_error

    missing = OSError(errno.EADDRNOTAVAIL, "Cannot assign requested address")
    assert str(_listen_error("::1", 80, missing)) == (
        "cannot listen on [::1]:80: ::1 is not an address of this machine"
    )
    denied = OSError(errno.EACCES, "Permission denied")
    assert "port 80 may need privileges" in str(_listen_error("127.0.0.1", 80, denied))


def test_argument_types_accept_what_a_socket_binds() -> None:
    assert port_number("0") == 0
    assert port_number("65535") == 65535
    assert host_name("[::1]") == "::1"
    assert host_name("0.0.0.0") == "0.0.0.0"
    assert host_name("localhost") == "localhost"
    assert host_name("gateway.internal.") == "gateway.internal."
    for bad in ("65536", "1e3", " 80", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            port_number(bad)
    for bad in ("", "a..b", "-lead.example", "1.2.3.4.5", "x" * 64):
        with pytest.raises(argparse.ArgumentTypeError):
            host_name(bad)


def test_only_the_command_line_reads_environment_variables() -> None:
    """Settings come from configuration: os.environ is read for them in _cli.py alone. The checker
    hands the whole environment on to the client it runs (as check --upstream does), and the render
    pool to its workers, which is passing, not reading."""
    passes_on = {"checker/_run.py", "checker/_fixture.py", "media/_pool.py", "proxy/_check.py"}
    readers = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute):
                names = {node.attr}
            elif isinstance(node, ast.ImportFrom) and node.module == "os":
                names = {a.name for a in node.names}
            else:
                continue
            if names & {"environ", "getenv", "environb"}:
                readers.add(name)
    assert readers - passes_on == {"_cli.py"}
