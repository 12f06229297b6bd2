"""mockgateway.contract and its strategies export what ``__all__`` says, and nothing is left out."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from mockgateway import contract
from mockgateway.contract import strategies

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("module", [contract, strategies], ids=lambda m: m.__name__)
def test_all_names_exist(module: ModuleType) -> None:
    for name in module.__all__:
        assert hasattr(module, name), name


@pytest.mark.parametrize("module", [contract, strategies], ids=lambda m: m.__name__)
def test_nothing_public_is_left_out(module: ModuleType) -> None:
    own = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(value) or inspect.isclass(value))
        and value.__module__.startswith(module.__name__)
    }
    assert own <= set(module.__all__)


def test_the_facade_does_not_import_hypothesis() -> None:
    """Hypothesis is a test dependency; loading schemas and validating must work without it."""
    probe = "import sys, mockgateway.contract; print('hypothesis' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr
