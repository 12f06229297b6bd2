"""The shell commands of README.md and docs/ run as written, so the pages cannot drift.

Each test takes its block from the page itself. Only what a test machine must change is changed,
and each test says what: the port 8080 becomes a free loopback port, and the real service's URL in
the "against the real service" commands becomes a local gateway's. Commands run with this venv's
``bin/`` first on ``PATH``, as in a shell where mockgateway is installed. README's other examples
are run by tests/test_readme.py, its install commands by tests/test_packaging.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import mockgateway

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REAL_SERVICE = "https://gateway.pixazo.ai"
SCHEMATHESIS = "mockgateway serve --port 8080 --config examples/schemathesis/"
PRIVATE_IMPORT = re.compile(r"^\s*(?:from|import)\s+mockgateway(?:\.\w+)*\._\w+", re.M)


def page(name: str) -> str:
    return (REPO / name).read_text(encoding="utf-8")


def fenced(name: str) -> list[tuple[str, str]]:
    """Every fenced block of a page as (language, text), fences paired in order."""
    found: list[tuple[str, str]] = []
    language: str | None = None
    lines: list[str] = []
    for line in page(name).splitlines(keepends=True):
        if line.startswith("```"):
            if language is None:
                language, lines = line[3:].strip(), []
            else:
                found.append((language, "".join(lines)))
                language = None
        elif language is not None:
            lines.append(line)
    return found


def blocks(name: str, *languages: str) -> list[str]:
    return [text for language, text in fenced(name) if language in languages]


def block_starting(name: str, start: str, *languages: str) -> str:
    found = [b for b in blocks(name, *languages) if b.startswith(start)]
    assert len(found) == 1, f"{name} has {len(found)} blocks starting {start!r}"
    return found[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def shell_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def sh(
    command: str, cwd: Path, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=shell_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextmanager
def served(line: str, cwd: Path) -> Iterator[str]:
    """A documented ``mockgateway serve ... &`` line, run in the background; yields its URL."""
    assert line.startswith("mockgateway serve "), line
    assert line.endswith(" &"), line
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {line.removesuffix(' &')}"],
            cwd=cwd,
            env=shell_env(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert process.stdout is not None
            first = process.stdout.readline()  # the first line printed names the URL
            # Keep reading what it prints, so a full pipe never blocks the gateway.
            drain = threading.Thread(target=process.stdout.read, daemon=True)
            drain.start()
            found = re.search(r"http://127\.0\.0\.1:[0-9]+", first)
            assert found, (first, log.seek(0), log.read())
            yield found.group(0)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            drain.join(timeout=30)
            assert process.stdout is not None
            process.stdout.close()


def suite_checks() -> list[str]:
    package = REPO / "mockgateway" / "contract_tests"
    return [
        n
        for p in package.glob("test_*.py")
        for n in re.findall(r"^def (test_\w+)", p.read_text(), re.M)
    ]


def with_port(block: str, port: int) -> str:
    assert "8080" in block
    return block.replace("8080", str(port))


# docs/contract.md ------------------------------------------------------------------------------


def test_schemathesis_command_passes_against_the_documented_gateway() -> None:
    block = with_port(block_starting("docs/contract.md", SCHEMATHESIS, "shell"), free_port())
    serve, run = block.split("\n", 1)
    assert run.startswith("st --config-file examples/schemathesis/schemathesis.toml run ")
    with served(serve, REPO):
        done = sh(run, REPO, timeout=240)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in done.stdout


def test_schemathesis_fails_on_the_open_key_default_as_the_doc_says() -> None:
    """Without examples/schemathesis/gateway.toml the auth check fails, which is why it is there."""
    block = with_port(block_starting("docs/contract.md", SCHEMATHESIS, "shell"), free_port())
    serve, run = block.split("\n", 1)
    with served(serve.replace(" --config examples/schemathesis/gateway.toml", ""), REPO):
        done = sh(run.replace("--max-examples 40", "--max-examples 5"), REPO, timeout=240)
    assert done.returncode == 1, done.stdout[-6000:]
    assert "ST401" in done.stdout


def test_provider_suite_command_passes_against_mockgateway(tmp_path: Path) -> None:
    start = "mockgateway serve --port 8080 &\npytest --pyargs"
    block = with_port(block_starting("docs/contract.md", start, "shell"), free_port())
    serve, run = block.split("\n", 1)
    with served(serve, REPO):
        done = sh(run, tmp_path, timeout=180)  # from any directory
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(rf"\b{len(suite_checks())} passed in\b", done.stdout), done.stdout[-2000:]


def test_provider_suite_command_for_a_declared_model_passes(tmp_path: Path) -> None:
    start = "mockgateway serve --port 8080 --config examples/models.toml &\npytest --pyargs"
    block = with_port(block_starting("docs/contract.md", start, "shell"), free_port())
    serve, run = block.split("\n", 1)
    assert "--mockgateway-gateway-model acme-text-to-image-v1" in run
    with served(serve, REPO):
        done = sh(run, tmp_path, timeout=180)  # from any directory
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"\b(\d+) passed, (\d+) skipped in\b", done.stdout)
    assert counts, done.stdout[-2000:]
    assert int(counts[1]) + int(counts[2]) == len(suite_checks())
    assert int(counts[1]) == 7  # the free checks, the model's own example and schema


@pytest.mark.parametrize(
    ("name", "start", "languages"),
    [
        ("docs/contract.md", "pytest --pyargs", ("shell",)),
        ("README.md", "$ pytest --pyargs", ("console",)),
    ],
)
def test_real_service_command_runs_its_free_checks(
    tmp_path: Path, name: str, start: str, languages: tuple[str, ...]
) -> None:
    """The command for the real service, with its URL pointed at a local gateway instead."""
    command = block_starting(name, start, *languages).removeprefix("$ ")
    assert REAL_SERVICE in command
    with mockgateway.serve_in_thread() as gw:
        done = sh(command.replace(REAL_SERVICE, gw.url), tmp_path, KEY="any-key")
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    counts = re.search(r"\b(\d+) passed, (\d+) skipped in\b", done.stdout)
    assert counts, done.stdout[-2000:]
    assert int(counts[1]) + int(counts[2]) == len(suite_checks())


# README.md and docs/checker.md: mockgateway check ----------------------------------------------


def _checker_dir(tmp_path: Path) -> Path:
    """A directory with the repository's tests/clients/, so reports land in tmp, not the repo."""
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "clients").symlink_to(REPO / "tests" / "clients")
    return tmp_path


def test_readme_check_command_writes_its_report(tmp_path: Path) -> None:
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    command = block_starting(
        "README.md", "$ mockgateway check --speed 50 --report", "console"
    ).removeprefix("$ ")
    done = sh(command, _checker_dir(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "<testsuite" in (tmp_path / "results.xml").read_text()


EXPECTED_EXIT = {
    "mockgateway check --speed 50 -- python tests/clients/client.py": 0,
    "mockgateway check --speed 50 -- node tests/clients/client.js --careless poll-interval": 1,
    "mockgateway check --speed 50 -- sh tests/clients/client.sh key-header": 1,
    "mockgateway check --speed 50 --api-key mock-429 -- python tests/clients/client.py "
    "--careless retry-after-429": 1,
}


def test_checker_example_client_commands_exit_as_the_doc_says(tmp_path: Path) -> None:
    block = block_starting("docs/checker.md", "mockgateway check --speed 50 -- python", "")
    commands = block.strip().splitlines()
    assert commands == list(EXPECTED_EXIT)
    for command in commands:
        if " node " in command and not shutil.which("node"):
            continue
        if " sh " in command and not shutil.which("curl"):
            continue
        done = sh(
            command, _checker_dir(tmp_path) if not (tmp_path / "tests").exists() else tmp_path
        )
        assert done.returncode == EXPECTED_EXIT[command], (command, done.stdout[-3000:])


def test_checker_careless_example_prints_what_the_doc_shows(tmp_path: Path) -> None:
    if not shutil.which("node"):
        pytest.skip("node is not installed")
    block = block_starting("docs/checker.md", "$ mockgateway check", "")
    command = block.splitlines()[0].removeprefix("$ ")
    done = sh(command, _checker_dir(tmp_path))  # from the repository's root, as the others
    assert done.returncode == 1, done.stdout + done.stderr
    client_line = next(ln for ln in block.splitlines() if ln.startswith("client: "))
    assert f"\n{client_line}\n" in done.stdout
    assert "\nmockgateway check: FAILED: 1 error(s), 0 warning(s)" in done.stdout
    assert "ERROR poll-interval [doc]: Polls of one request come no closer than 5 s apart" in (
        done.stdout
    )
    assert "how to fix: Sleep at least 5 s between status polls" in done.stdout


def test_checker_other_models_commands_run_as_written(tmp_path: Path) -> None:
    doc = page("docs/checker.md")
    found = re.search(r"<!-- commands: models, run as written [^\n]*\n```\n(.+?)```", doc, re.S)
    assert found is not None
    careful, careless = found.group(1).strip().splitlines()
    cwd = _checker_dir(tmp_path)
    (cwd / "examples").symlink_to(REPO / "examples")
    done = sh(careful, cwd)
    assert "mockgateway check: PASSED: 0 error(s), 0 warning(s), 0 info" in done.stdout
    assert "rules that held: key-header, " in done.stdout
    assert done.returncode == 0, done.stdout
    bad = sh(careless, cwd)
    assert bad.returncode == 1, bad.stdout
    shown = doc[doc.index("exits `1`:\n\n```\n") :].split("```")[1].strip().splitlines()
    for line in shown:
        if line != "...":
            assert f"\n{line}\n" in bad.stdout, line


def test_checker_list_rules_command(tmp_path: Path) -> None:
    synopsis = block_starting("docs/checker.md", "mockgateway check [--config FILE]", "")
    assert "mockgateway check --list-rules" in synopsis.splitlines()
    listed = sh("mockgateway check --list-rules", tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "poll-interval" in listed.stdout
    # The saved-journal commands (curl, then check --journal) run as written in
    # tests/test_checker_docs.py.


# every page: examples use the public API only ---------------------------------------------------


@pytest.mark.parametrize(
    "name", ["README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))]
)
def test_examples_import_no_private_module(name: str) -> None:
    for block in blocks(name, "python"):
        assert not PRIVATE_IMPORT.search(block), block


# docs/contract.md: Prism -----------------------------------------------------------------------

PRISM_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mockgateway-tests" / "prism"
)
PRISM_PACKAGE = "@stoplight/prism-cli@5"
ERROR_LINE = re.compile(r"\berror\b", re.I)


def prism_install() -> Path:
    """Prism from the npm registry, installed once into a cache directory (bounded in time)."""
    if not (shutil.which("npm") and shutil.which("npx")):
        pytest.skip("npm is not installed")
    if not (PRISM_CACHE / "node_modules" / ".bin" / "prism").exists():
        PRISM_CACHE.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PRISM_CACHE),
                PRISM_PACKAGE,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    return PRISM_CACHE


def prism_log_after_doc_request(command: str, schemas: Path, workdir: Path) -> list[str]:
    """Run the documented Prism command on ``schemas``, send the README's curl, return error lines."""
    cache = prism_install()
    workdir.mkdir()
    (workdir / "schemas").symlink_to(schemas)
    (workdir / "node_modules").symlink_to(cache / "node_modules")
    shutil.copy(cache / "package.json", workdir / "package.json")
    port = free_port()
    log_path = workdir / "prism.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command.strip().replace('4010', str(port))}"],
            cwd=workdir,
            env=shell_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # npx starts npm, a shell and node: stop the whole group
        )
        try:
            deadline = time.monotonic() + 90
            while "Prism is listening" not in log_path.read_text():
                assert process.poll() is None, log_path.read_text()[-3000:]
                assert time.monotonic() < deadline, log_path.read_text()[-3000:]
                time.sleep(0.2)  # a separate Node process: only its log tells when it is ready
            readme_curl = re.findall(r"```sh\n(.*?)```", page("README.md"), re.S)[0]
            host = f"http://127.0.0.1:{port}"
            sent = sh(readme_curl.replace("http://127.0.0.1:8080", host), workdir, timeout=30)
            assert sent.returncode == 0, sent.stderr
            assert json.loads(sent.stdout)["status"] == "QUEUED"
            deadline = time.monotonic() + 3  # a callback, if declared, runs just after the answer
            while time.monotonic() < deadline and not ERROR_LINE.search(log_path.read_text()):
                time.sleep(0.2)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)
    text = log_path.read_text()
    assert "Request received" in text, text[-3000:]
    return [line for line in text.splitlines() if ERROR_LINE.search(line)]


def test_prism_mock_of_the_document_runs_clean_on_the_doc_request(tmp_path: Path) -> None:
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    command = block_starting("docs/contract.md", "npx @stoplight/prism-cli mock", "shell")
    assert prism_log_after_doc_request(command, REPO / "schemas", tmp_path / "ours") == []

    # The same check catches a webhook declared as a callback, which Prism fires without the header.
    with_callback = tmp_path / "with-callback"
    shutil.copytree(REPO / "schemas", with_callback)
    document = json.loads((with_callback / "openapi.json").read_text())
    generate = document["paths"][
        "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
    ]
    generate["post"]["callbacks"] = {
        "statusWebhook": {"{$request.header.X-Webhook-URL}": document["webhooks"]["jobStatus"]}
    }
    (with_callback / "openapi.json").write_text(json.dumps(document))
    errors = prism_log_after_doc_request(command, with_callback, tmp_path / "theirs")
    assert any("Only absolute URLs are supported" in line for line in errors), errors
