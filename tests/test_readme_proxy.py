"""README's "Checking against the real gateway": every command runs as written, with the real
service's URL pointed at a gateway of ours (its own process) and the ports made free ones."""

from __future__ import annotations

import json
import random
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mockgateway.faults import faults_from_toml
from mockgateway.proxy import DriftKind
from mockgateway.proxy._drift import DOCUMENTED
from tests.proxy_support import (
    KEY,
    ROOT,
    free_port,
    generate,
    poll_until_done,
    session,
    upstream,
    wait_for,
)
from tests.test_docs_commands import REAL_SERVICE, sh, shell_env

SECTION = (ROOT / "README.md").read_text().split("## Checking against the real gateway", 1)[1]
SECTION = SECTION.split("\n## ", 1)[0]
QUICK = """
[lifecycle]
queue_seconds = 0.2
processing_seconds = 0.3
[media]
mode = "sample"
"""


def commands() -> list[str]:
    found = re.findall(r"```console\n(.*?)```", SECTION, re.S)
    return [ln[2:] for block in found for ln in block.splitlines() if ln.startswith("$ ")]


def command(start: str) -> str:
    (found,) = [c for c in commands() if c.startswith(start)]
    return found


@contextmanager
def background(line: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(
        ["bash", "-c", f"exec {line}"], cwd=cwd, env=shell_env(KEY=KEY),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    first = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:[0-9]+", first)
    assert found, first + (process.stderr.read() if process.stderr else "")
    try:
        yield process, found.group(0)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return process.returncode, err


def test_every_command_of_the_section_is_tested_here() -> None:
    assert [c.split(" --")[0] for c in commands()] == [
        "mockgateway proxy", "mockgateway proxy", "mockgateway check", "mockgateway calibrate run.har > profile.toml",
        "mockgateway serve",
    ]  # fmt: skip


def test_the_free_proxy_command_refuses_generate_as_shown(tmp_path: Path) -> None:
    line = command("mockgateway proxy --upstream https://gateway.pixazo.ai --port 8090 --record")
    port = free_port()
    with upstream(tmp_path, QUICK) as up:
        local = line.replace(REAL_SERVICE, up.url).replace("8090", str(port))
        with background(local, tmp_path) as (process, url):
            answer = generate(session(), url)
            assert answer.status_code == 402
            shown = re.search(r'`402 (\{"error": "Payment Required".*?)\.\.\."\}`', SECTION)
            assert shown, "the README shows the 402"
            assert json.dumps(answer.json()).startswith(shown.group(1))
            code, err = stop(process)
    assert code == 0, err
    assert (tmp_path / "run.har").is_file()
    assert "<testsuite" in (tmp_path / "drift.xml").read_text()


def test_the_billable_proxy_then_calibrate_then_serve(tmp_path: Path) -> None:
    known = re.search(r"```toml\n(\[\[known\]\].*?)```", SECTION, re.S)
    assert known
    (tmp_path / "known-drift.toml").write_text(known.group(1))
    line = command("mockgateway proxy --upstream https://gateway.pixazo.ai --port 8090 --allow")
    port = free_port()
    rewrites = {"extra_field": {"progress": 100}}  # a difference the README lists as known
    with upstream(tmp_path, QUICK, rewrites=rewrites) as up:
        local = line.replace(REAL_SERVICE, up.url).replace("8090", str(port))
        with background(local, tmp_path) as (process, url):
            s = session()
            for _ in range(3):
                accepted = generate(s, url)
                assert accepted.status_code == 202, accepted.text
                poll_until_done(s, accepted.json()["polling_url"], pause=0.1)
                # until it is measured, a 480p job counts at 9.60 USD: a second would not fit
                # in the 12.00 budget, so each waits for the one before to be measured
                wait_for(lambda: s.get(url + "/_mock/spend", timeout=5).json()["unpriced"] == 0)
            code, err = stop(process)
    assert code == 0, err  # the only drift is a known one
    report = json.loads((tmp_path / "drift.json").read_text())
    assert [d["level"] for d in report["drifts"]] == ["info"]
    assert "spend: 1.44 USD for 3 job(s)" in err
    calibrated = sh(command("mockgateway calibrate"), tmp_path)
    assert calibrated.returncode == 0, calibrated.stderr
    assert "processing bytedance-omnihuman-v1-5-290 480p: n=3" in calibrated.stderr
    profile = faults_from_toml((tmp_path / "profile.toml").read_text(), "profile.toml")
    queue = profile.delays.for_model("bytedance-omnihuman-v1-5-290", "queue", "480p")
    assert queue is not None
    assert abs(queue.sample(random.Random(0)) - 0.2) < 0.05  # [lifecycle] queue_seconds
    serve = command("mockgateway serve").replace("8080", str(free_port()))
    with background(serve, tmp_path) as (_, url):
        assert session().get(url + "/_mock/health", timeout=10).status_code == 200


def test_the_check_upstream_command(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "clients").symlink_to(ROOT / "tests" / "clients")
    line = command("mockgateway check --upstream")
    with upstream(tmp_path, QUICK) as up:
        done = sh(line.replace(REAL_SERVICE, up.url), tmp_path, KEY=KEY)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mockgateway check: PASSED" in done.stdout
    assert "cost: 0.48 USD" in done.stdout
    assert KEY not in done.stdout + done.stderr


def test_the_drift_table_lists_every_kind_as_the_rules_judge_it() -> None:
    rows = re.findall(r"^\| (`[a-z-]+`(?:, `[a-z-]+`)*) \| `([^`]+)` \| (.+) \|$", SECTION, re.M)
    listed: dict[str, str] = {}
    for kinds, example, fails in rows:
        for kind in re.findall(r"`([a-z-]+)`", kinds):
            listed[kind] = fails
        assert example.split(":")[0] in re.findall(r"`([a-z-]+)`", kinds)
    assert set(listed) == {k.value for k in DriftKind}
    for kind, fails in listed.items():
        if kind == "error-body":
            assert fails.startswith("yes for the doc's own")
            continue
        assert fails.startswith("yes" if DOCUMENTED[DriftKind(kind)] else "no"), kind
