"""The checker's public API is what its ``__all__`` says, and the plugin stays thin."""

from __future__ import annotations

from pathlib import Path

import mockgateway.checker as checker


def test_every_exported_name_exists_and_nothing_public_is_left_out() -> None:
    for name in checker.__all__:
        assert hasattr(checker, name), name
    public = {n for n in vars(checker) if not n.startswith("_") and n[0].isupper()}
    assert public <= set(checker.__all__)
    assert len(set(checker.__all__)) == len(checker.__all__)


def test_the_plugin_module_is_thin() -> None:
    source = (Path(checker.__file__).parent.parent / "pytest_plugin.py").read_text()
    assert len(source.splitlines()) < 150
    top_level_imports = [
        line for line in source.splitlines() if line.startswith(("import ", "from "))
    ]
    assert all("mockgateway" not in line for line in top_level_imports)
