"""docs/models.md stays true: its declaration loads, its commands run as written (the port made
free), its error line is what serve prints, and its table of keys is the keys a model takes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mockgateway import load_config
from mockgateway.models import KEYS, Per
from tests.test_docs_commands import block_starting, free_port, page, served, sh

REPO = Path(__file__).resolve().parents[1]
PAGE = "docs/models.md"


def test_the_declaration_on_the_page_loads_as_it_says(tmp_path: Path) -> None:
    block = block_starting(PAGE, "[[models]]", "toml")
    shutil.copytree(REPO / "examples" / "models", tmp_path / "models")
    path = tmp_path / "gateway.toml"
    path.write_text(block)
    spec = next(m for m in load_config(path).models if m.id == "acme-image-to-video-v2")
    assert spec.per is Per.REQUEST
    assert str(spec.price) == "0.350000"
    assert spec.length is not None
    assert spec.length.field == "duration"


def test_the_serve_and_curl_commands_answer_202() -> None:
    serve_line, curl = block_starting(PAGE, "mockgateway serve", "shell").split("\n", 1)
    port = free_port()
    with served(serve_line.replace("8080", str(port)), REPO):
        result = sh(curl.replace("8080", str(port)), REPO)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["status"] == "QUEUED"
    assert body["request_id"].startswith("acme-text-to-image-v1_")


def test_the_error_line_is_what_serve_prints(tmp_path: Path) -> None:
    (line,) = block_starting(PAGE, "mockgateway: ", "text").splitlines()
    (tmp_path / "gateway.toml").write_text(
        '[[models]]\nid = "acme-v2"\noperation = "acme-v2-request"\noutput = "gif"\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", "--config", "gateway.toml"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == line


def test_the_table_of_keys_is_every_key_a_model_takes() -> None:
    rows = re.findall(r"^\| (`[^|]+`) \|", page(PAGE), re.M)
    documented = {key for row in rows for key in re.findall(r"`([a-z_]+)`", row)}
    assert documented == set(KEYS)
