"""mockgateway's two pytest plugins are loaded in every pytest run where it is installed: they
must cost next to nothing there and must not take names a project may use itself."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from _pytest.config.argparsing import Parser

import mockgateway.contract_tests.plugin
import mockgateway.pytest_plugin

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[1]
PLUGINS = [mockgateway.pytest_plugin, mockgateway.contract_tests.plugin]
# What importing the entry-point modules may load of ours: the packages on their path, the lazy
# attribute helper, and the plugin modules themselves.
LIGHT = {
    "mockgateway",
    "mockgateway._lazy",
    "mockgateway.pytest_plugin",
    "mockgateway.contract_tests",
    "mockgateway.contract_tests.plugin",
}
HEAVY = ("aiohttp", "jsonschema", "numpy", "av", "hypothesis", "multidict", "yarl")


def test_entry_points_are_the_two_plugin_modules() -> None:
    entries = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert set(entries["pytest11"].values()) == {module.__name__ for module in PLUGINS}


def test_importing_the_plugins_loads_nothing_heavy() -> None:
    probe = (
        "import sys; before = set(sys.modules);"
        "import mockgateway.pytest_plugin, mockgateway.contract_tests.plugin;"
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    ours = {name for name in loaded if name.split(".")[0] == "mockgateway"}
    assert ours == LIGHT
    assert not {name for name in loaded if name.split(".")[0] in HEAVY}


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda m: m.__name__)
def test_every_option_and_ini_setting_is_prefixed(plugin: ModuleType) -> None:
    parser = Parser(_ispytest=True)
    plugin.pytest_addoption(parser)
    options = [opt for group in parser._groups for opt in group.options]
    assert options
    for option in options:
        for name in option.names():
            assert name.startswith("--mockgateway-"), name
        assert option.dest.startswith("mockgateway_"), option.dest
    for ini in parser._inidict:
        assert ini.startswith("mockgateway_"), ini


USER_CONFTEST = """
def pytest_addoption(parser):
    parser.addoption("--gateway-url", default="http://user.example.test")
    parser.addoption("--gateway-api-key")
    parser.addoption("--gateway-timeout", type=int, default=3)
    parser.addini("gateway_url", "the project's own ini setting")
"""


def test_a_project_may_define_its_own_gateway_options(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(USER_CONFTEST)
    pytester.makeini("[pytest]\ngateway_url = http://ini.example.test\n")
    pytester.makepyfile(
        test_mine="""
        def test_mine(pytestconfig):
            assert pytestconfig.getoption("--gateway-url") == "http://user.example.test"
            assert pytestconfig.getoption("--gateway-timeout") == 3
            assert pytestconfig.getini("gateway_url") == "http://ini.example.test"
            assert pytestconfig.getoption("--mockgateway-gateway-url") is None
            assert pytestconfig.pluginmanager.has_plugin("mockgateway")
            assert pytestconfig.pluginmanager.has_plugin("mockgateway-contract")
        """
    )
    result = pytester.runpytest_subprocess()  # both plugins load from their entry points
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    result.assert_outcomes(passed=1)
