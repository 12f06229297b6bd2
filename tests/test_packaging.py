"""The package installs as the README says, into a fresh virtual environment, beside a user's project.

The wheel is built from a copy of the working tree with the README's own commands, installed into
a new venv (its dependencies come from the package index, so this module needs the index and is
marked ``index``; pip's cache keeps it to seconds), and then a project that has its own
``contract_tests/`` folder and its own ``--gateway-url`` option runs its tests with plain
``pytest`` and ``python -m pytest``, with both of mockgateway's pytest plugins loaded.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import textwrap
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

import mockgateway

pytestmark = pytest.mark.index

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
INSTALL_TIMEOUT = 240  # seconds, for a cold pip cache; warm, the whole module takes well under 90


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def install_commands() -> list[str]:
    """The README's install blocks, each a list of shell lines."""
    return re.findall(r"```shell\n(.*?)```", _section("Install"), re.S)


def _clone(into: Path) -> Path:
    """The working tree's files (tracked and new, none ignored), as a clone would have them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / os.fsdecode(name)
        if source.is_file():
            target = into / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


@dataclass(frozen=True)
class Installed:
    bin: Path
    wheel: Path | None = None

    def env(self) -> dict[str, str]:
        """The environment of a shell with this venv activated (and no hint of the repo's)."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.bin.parent)
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        return env

    def run(self, command: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", command],
            cwd=cwd,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (
        f"exit {done.returncode}\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The README's wheel commands, run as written in a clone with a fresh venv activated."""
    root = tmp_path_factory.mktemp("packaging")
    clone = _clone(root / "clone")
    venv.create(root / "venv", with_pip=True, system_site_packages=False)
    bin_dir = root / "venv" / "bin"
    shell = Installed(bin_dir)
    install_block, wheel_block = install_commands()
    assert install_block == "python -m pip install .\n"
    _ok(shell.run(install_block, clone, timeout=INSTALL_TIMEOUT))
    shown = _ok(shell.run("python -m pip show -f mockgateway", clone))
    assert "mockgateway/contract_tests/plugin.py" in shown
    _ok(shell.run("python -m pip uninstall -y -q mockgateway", clone))  # the wheel next, alone
    _ok(shell.run(wheel_block, clone, timeout=INSTALL_TIMEOUT))
    (wheel,) = (clone / "dist").glob("mockgateway-*.whl")
    # pytest is the user's own test runner; hypothesis and hypothesis-jsonschema are what
    # docs/contract.md says to add for the strategies.
    install = "python -m pip install -q pytest hypothesis hypothesis-jsonschema"
    _ok(shell.run(install, clone, timeout=INSTALL_TIMEOUT))
    return Installed(bin_dir, wheel)


def test_readme_names_the_wheel_it_builds(installed: Installed) -> None:
    assert installed.wheel is not None
    wheel_block = next(block for block in install_commands() if "pip wheel" in block)
    assert f"dist/{installed.wheel.name}" in wheel_block
    assert installed.wheel.name == f"mockgateway-{mockgateway.__version__}-py3-none-any.whl"


def test_wheel_has_one_top_level_package_and_the_license(installed: Installed) -> None:
    assert installed.wheel is not None
    names = zipfile.ZipFile(installed.wheel).namelist()
    top = {
        name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")
    }
    assert top == {"mockgateway"}
    assert "mockgateway/contract_tests/plugin.py" in names
    page = {"index.html", "app.js", "app.css", "api.js", "dom.js", "jobs.js", "job.js"}
    assert {f"mockgateway/web/ui/{name}" for name in page} <= set(names)  # the dashboard
    license_files = [n for n in names if n.endswith("/LICENSE") and ".dist-info/" in n]
    assert license_files, names
    text = zipfile.ZipFile(installed.wheel).read(license_files[0]).decode()
    assert "MIT License" in text
    assert "mockgateway contributors" in text


def test_the_venv_imports_the_installed_package(installed: Installed, tmp_path: Path) -> None:
    """The venv's mockgateway is the installed one, so the tests below test the wheel."""
    out = _ok(
        installed.run("python -c 'import mockgateway; print(mockgateway.__file__)'", tmp_path)
    )
    assert str(installed.bin.parent) in out
    assert str(REPO) not in out


USER_CONFTEST = """\
import pytest


def pytest_addoption(parser):
    parser.addoption("--gateway-url", default="http://user.example.test")
"""

USER_CONTRACT_TEST = """\
def test_mine(pytestconfig):
    assert pytestconfig.getoption("--gateway-url") == "http://user.example.test"
"""

USER_FIXTURE_TEST = """\
import json
import urllib.request


def test_mock_gateway_fixture(mock_gateway):
    with urllib.request.urlopen(mock_gateway.url + "/_mock/health", timeout=10) as response:
        assert json.load(response)["status"] == "ok"


def test_contract_options_are_there(pytestconfig):
    assert pytestconfig.getoption("--mockgateway-gateway-url") is None
"""


def _user_project(root: Path) -> Path:
    (root / "contract_tests").mkdir(parents=True)
    (root / "contract_tests" / "__init__.py").write_text("")
    (root / "contract_tests" / "test_mine.py").write_text(USER_CONTRACT_TEST)
    (root / "tests").mkdir()
    (root / "tests" / "test_fixture.py").write_text(USER_FIXTURE_TEST)
    (root / "conftest.py").write_text(USER_CONFTEST)
    return root


@pytest.mark.parametrize("runner", ["pytest", "python -m pytest"])
def test_a_project_with_its_own_contract_tests_and_gateway_url(
    installed: Installed, tmp_path: Path, runner: str
) -> None:
    project = _user_project(tmp_path / "project")
    out = _ok(installed.run(f"{runner} -q -p no:cacheprovider", project))
    assert "3 passed" in out
    plugins = _ok(installed.run(f"{runner} --trace-config --co -q -p no:cacheprovider", project))
    assert "mockgateway.pytest_plugin" in plugins
    assert "mockgateway.contract_tests.plugin" in plugins


def test_the_readme_in_process_examples_run_in_the_fresh_venv(
    installed: Installed, tmp_path: Path
) -> None:
    script, test_file = re.findall(r"```python\n(.*?)```", _section("In-process use"), re.S)
    (tmp_path / "in_process.py").write_text(script)
    assert re.match(
        r"http://127\.0\.0\.1:\d+\n$", _ok(installed.run("python in_process.py", tmp_path))
    )
    (tmp_path / "test_in_process.py").write_text(test_file)
    assert "1 passed" in _ok(
        installed.run("pytest -q -p no:cacheprovider test_in_process.py", tmp_path)
    )


def test_the_provider_suite_runs_by_its_documented_name(
    installed: Installed, tmp_path: Path
) -> None:
    """``--pyargs mockgateway.contract_tests`` resolves in the installed package, from anywhere."""
    done = installed.run(
        "pytest -p no:cacheprovider --pyargs mockgateway.contract_tests --co -q", tmp_path
    )
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert "the contract suite needs --mockgateway-gateway-url URL" in done.stderr


def test_the_contract_doc_hypothesis_example_runs_in_the_fresh_venv(
    installed: Installed, tmp_path: Path
) -> None:
    doc = (REPO / "docs" / "contract.md").read_text()
    section = doc[doc.index("## Hypothesis strategies") : doc.index("## Schemathesis")]
    (example,) = re.findall(r"```python\n(.*?)```", section, re.S)
    (tmp_path / "strategies_example.py").write_text(textwrap.dedent(example))
    _ok(installed.run("python strategies_example.py", tmp_path))
