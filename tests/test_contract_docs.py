"""docs/contract.md: its Python examples run as written and its option table matches the plugin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import mockgateway.contract_tests.plugin

DOC = Path(__file__).resolve().parents[1] / "docs" / "contract.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_python_example_runs(block: str) -> None:
    exec(compile(block, str(DOC), "exec"), {"__name__": "contract_doc_example"})


def test_there_are_examples() -> None:
    assert len(BLOCKS) == 3


def test_every_suite_option_is_documented_and_no_other() -> None:
    source = Path(mockgateway.contract_tests.plugin.__file__).read_text()
    registered = set(re.findall(r'"(--mockgateway-gateway-[a-z-]+)"', source))
    documented = set(re.findall(r"`(--mockgateway-gateway-[a-z-]+)", DOC.read_text()))
    assert registered == documented


def test_every_check_is_documented() -> None:
    package = Path(mockgateway.contract_tests.plugin.__file__).parent
    checks = {
        name
        for path in package.glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)", path.read_text(), re.M)
    }
    documented = set(re.findall(r"`(test_\w+)`", DOC.read_text()))
    assert checks == documented
