"""pytest plugin: the ``mock_gateway`` fixture and an automatic contract check after each test.

Thin on purpose: the behaviour lives in :mod:`mockgateway.checker`. Nothing is imported and no
gateway starts until a test asks for ``mock_gateway``, so the plugin costs nothing otherwise.

    def test_my_client(mock_gateway):
        run_my_client(mock_gateway.url, mock_gateway.api_key)
        # after the test: every contract rule is checked; a broken one fails the test

    @pytest.mark.mockgateway(scenario="402", check=False)
    def test_out_of_money(mock_gateway): ...
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockgateway.checker._fixture import GatewaySession, MockGateway

OPTIONS = {
    "config": "gateway TOML for the session's gateway; its [checker] table tunes the rules",
    "speed": "run the gateway clock N times faster (rules still measure gateway time)",
    "check": "fail a test on broken rules of severity 'error' (default), 'warning', or 'off'",
    "api_key": "API key the mock_gateway fixture hands out",
    "model": "model id mock_gateway.generate_url aims at (default: the first one served)",
    "budget": "fail the run when its tests' jobs would cost more than this many USD in all",
}
MARKER = (
    "mockgateway(scenario=None, api_key=None, check=True, config=None, speed=None, clock=None, "
    "disable=(), severity={}, model=None): per-test gateway settings for the mock_gateway fixture"
)
TLS_HELP = "serve HTTPS from a local CA; mock_gateway.ca_file (and .env) name its certificate"
_HANDLE: pytest.StashKey[MockGateway] = pytest.StashKey()
_PROPERTIES = ("mockgateway", "mockgateway-cost")  # the names mockgateway.checker._summary uses


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockgateway", "mockgateway: local API gateway and contract checks")
    for name, help_text in OPTIONS.items():
        group.addoption(f"--mockgateway-{name.replace('_', '-')}", dest=f"mockgateway_{name}",
                        default=None, help=f"{help_text} (ini: mockgateway_{name})")  # fmt: skip
        parser.addini(f"mockgateway_{name}", help_text, default=None)
    group.addoption("--mockgateway-tls", dest="mockgateway_tls", action="store_true",
                    default=None, help=f"{TLS_HELP} (ini: mockgateway_tls)")  # fmt: skip
    parser.addini("mockgateway_tls", TLS_HELP, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    raw = _option(config, "budget")
    if raw is not None:  # only a budget imports the checker this early
        from mockgateway.checker._budget import BudgetWatch, parse_budget

        try:
            config.pluginmanager.register(BudgetWatch(parse_budget(raw)), BudgetWatch.NAME)
        except ValueError as exc:
            raise pytest.UsageError(str(exc)) from None


def _option(config: pytest.Config, name: str) -> str | None:
    value = config.getoption(f"mockgateway_{name}")
    if value is None:
        value = config.getini(f"mockgateway_{name}")
    return None if value in (None, "") else str(value)


@pytest.fixture(scope="session")
def mockgateway_session(pytestconfig: pytest.Config) -> Iterator[GatewaySession]:
    """The session's gateway (one per xdist worker, on a free port), started on first use."""
    from mockgateway.checker._fixture import GatewaySession
    from mockgateway.checker._marker import PluginOptions, PluginUsageError

    try:
        tls = bool(
            pytestconfig.getoption("mockgateway_tls") or pytestconfig.getini("mockgateway_tls")
        )
        wanted = (name for name in OPTIONS if name != "budget")  # the session's, not the gateway's
        values = {name: _option(pytestconfig, name) for name in wanted}
        options = PluginOptions.parse(**values, tls=tls)
    except PluginUsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = GatewaySession(options)
    yield session
    session.close()


@pytest.fixture
def mock_gateway(
    request: pytest.FixtureRequest, mockgateway_session: GatewaySession
) -> Iterator[MockGateway]:
    """A freshly reset gateway for this test: ``.url``, ``.api_key``, ``.journal()``, ``.clock``."""
    marker = request.node.get_closest_marker("mockgateway")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker else {}
    with mockgateway_session.for_test(kwargs) as handle:
        request.node.stash[_HANDLE] = handle
        yield handle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    handle = item.stash.get(_HANDLE, None)
    try:
        yield
    except BaseException:
        if handle is not None:
            handle.record_quietly()  # for the summary; the test's own failure stands
        raise
    if handle is not None:
        if handle.check_level == "off":
            handle.record_quietly()
        else:
            handle.assert_contract()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    handle = item.stash.get(_HANDLE, None)
    if report.when == "call" and handle is not None and handle.verdict is not None:
        from mockgateway.checker._summary import annotate_report

        annotate_report(item, report, call, handle.verdict, checked=handle.check_level != "off")
    return report


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows: dict[str, list[tuple[str, str]]] = {name: [] for name in _PROPERTIES}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name in rows and getattr(report, "when", None) == "call":
                    rows[name].append((report.nodeid, value))
    if not rows[_PROPERTIES[0]]:
        return
    from mockgateway.checker._summary import cost_lines, summary_lines

    watch = terminalreporter.config.pluginmanager.get_plugin("mockgateway-budget")
    terminalreporter.write_sep("=", "mockgateway contract checks")
    for line in summary_lines(rows[_PROPERTIES[0]]) + cost_lines(
        rows[_PROPERTIES[1]], getattr(watch, "budget", None)
    ):
        terminalreporter.write_line(line)
