"""The README's dashboard section runs as written: the lines ``serve`` prints, the commands that
protect ``/_mock/`` with a token (the port swapped for a free one), and ``scripts/screenshots``,
which makes the section's pictures from a real run (into a scratch directory here, so the
committed pictures stay as they are)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .browser_support import chromium_path
from .test_readme_serve import ROOT, Background, commands, environ

README = (ROOT / "README.md").read_text()
SECTION = README.split("## The dashboard (`/_mock/ui/`)", 1)[1].split("\n## ", 1)[0]
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_section_shows_the_lines_serve_prints() -> None:
    [block] = re.findall(r"```text\n(mockgateway listening on .*?)```", SECTION, re.S)
    served = Background("mockgateway serve --port 0", ROOT)
    try:
        assert served.process.stdout is not None
        second = served.process.stdout.readline()
    finally:
        served.stop()
    shown = block.splitlines()
    assert shown[0] == "mockgateway listening on http://127.0.0.1:8080"
    assert shown[1] == second.rstrip("\n").replace(f":{served.port}", ":8080")


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_token_commands_protect_the_operator_api() -> None:
    export, serve, curl = [c for c in commands(SECTION)]
    assert export.startswith("export MOCKGATEWAY_OPERATOR_TOKEN=")
    token = export.split("=", 1)[1]
    assert serve.startswith("mockgateway serve --host 0.0.0.0")
    served = Background(f"{export} && exec {serve.replace('--port 8080', '--port 0')}", ROOT)
    try:
        url = f"http://127.0.0.1:{served.port}"
        env = {**environ(), "MOCKGATEWAY_OPERATOR_TOKEN": token}
        given = subprocess.run(
            ["bash", "-c", curl.replace("http://127.0.0.1:8080", url)],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
        assert given.returncode == 0, given.stderr
        assert '"status": "ok"' in given.stdout
        refused = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"{url}/_mock/health"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert refused.stdout == "401"
    finally:
        served.stop()


def test_the_pictures_are_committed_and_shown() -> None:
    shown = re.findall(r"!\[[^\]]+\]\((docs/[^)]+\.png)\)", SECTION)
    assert shown == ["docs/dashboard-jobs.png", "docs/dashboard-job.png"]
    for name in shown:
        data = (ROOT / name).read_bytes()
        assert data.startswith(PNG), name
        assert len(data) > 20_000, name  # a picture of the page, not a placeholder


def test_scripts_screenshots_makes_the_pictures_from_a_real_run(tmp_path: Path) -> None:
    chromium_path()  # skips (fails under CI) without the browser
    assert "`scripts/screenshots`" in SECTION
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}
    made = subprocess.run(
        [str(ROOT / "scripts" / "screenshots"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    for name in ("dashboard-jobs.png", "dashboard-job.png"):
        picture = tmp_path / name
        assert picture.read_bytes().startswith(PNG)
        width = int.from_bytes(picture.read_bytes()[16:20], "big")
        assert width == 1280, (name, width)
