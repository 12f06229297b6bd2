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
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from mockgateway.checker._fixture import GatewaySession, MockGateway

OPTIONS = {
    "config": "gateway TOML for the session's gateway; its [checker] table tunes the rules",
    "speed": "run the gateway clock N times faster (rules still measure gateway time)",
    "check": "fail a test on broken rules of severity 'error' (default), 'warning', or 'off'",
    "api_key": "API key the mock_gateway fixture hands out",
}
BUDGET_HELP = "fail the run when its jobs would have cost more than USD on the real gateway"
MARKER = (
    "mockgateway(scenario=None, api_key=None, check=True, config=None, speed=None, clock=None, "
    "disable=(), severity={}): per-test gateway settings for the mock_gateway fixture"
)
_HANDLE: pytest.StashKey[MockGateway] = pytest.StashKey()
_PROPERTY = "mockgateway"  # the names mockgateway.checker._summary reads back
_COST_PROPERTY = "mockgateway-cost"
_BUDGET: pytest.StashKey[Decimal | None] = pytest.StashKey()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockgateway", "mockgateway: local API gateway and contract checks")
    for name, help_text in OPTIONS.items():
        group.addoption(f"--mockgateway-{name.replace('_', '-')}", dest=f"mockgateway_{name}",
                        default=None, help=f"{help_text} (ini: mockgateway_{name})")  # fmt: skip
        parser.addini(f"mockgateway_{name}", help_text, default=None)
    group.addoption("--mockgateway-budget", dest="mockgateway_budget", default=None,
                    metavar="USD", help=f"{BUDGET_HELP} (ini: mockgateway_budget)")  # fmt: skip
    parser.addini("mockgateway_budget", BUDGET_HELP, default=None)


def _budget(raw: str | None) -> Decimal | None:
    if raw is None:
        return None
    try:
        budget = Decimal(raw)
    except InvalidOperation:
        budget = None
    if budget is None or not budget.is_finite() or budget < 0:
        raise pytest.UsageError(
            f'mockgateway budget must be an amount of US dollars such as "2.50", got {raw!r}'
        )
    return budget


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    budget = config.stash[_BUDGET] = _budget(_option(config, "budget"))
    if budget is not None:
        config.pluginmanager.register(_Budget(budget), "mockgateway-budget")


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
        options = PluginOptions.parse(**{name: _option(pytestconfig, name) for name in OPTIONS})
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
        from mockgateway._errors import ContractViolation
        from mockgateway.checker._summary import encode, encode_cost

        value = encode(handle.verdict, checked=handle.check_level != "off")
        cost = encode_cost(handle.verdict.cost)
        for properties in (report.user_properties, item.user_properties):  # item: --junitxml
            properties.extend([(_PROPERTY, value), (_COST_PROPERTY, cost)])
        crash = getattr(report.longrepr, "reprcrash", None)
        if call.excinfo is not None and call.excinfo.errisinstance(ContractViolation) and crash:
            # the short summary shows this line cut to the terminal's width: the rule id first,
            # not the exception's module path
            first = str(call.excinfo.value).partition("\n")[0]
            crash.message = f"{call.excinfo.type.__name__}: {first}"
    return report


class _Budget:
    """Adds up each test's bill and fails the session over ``--mockgateway-budget``.

    Reports reach ``pytest_runtest_logreport`` on the controller from every xdist worker, so the
    total is the whole run's; workers themselves leave the verdict to the controller.
    """

    def __init__(self, budget: Decimal) -> None:
        self.budget = budget
        self.costs: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            for name, value in report.user_properties:
                if name == _COST_PROPERTY and isinstance(value, str):
                    self.costs[report.nodeid] = value

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.costs or hasattr(session.config, "workerinput"):
            return
        from mockgateway.checker._summary import total_cost

        if total_cost(self.costs.items()) > self.budget:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _rows(terminalreporter: Any, wanted: str) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == wanted and getattr(report, "when", None) == "call":
                    rows.append((report.nodeid, value))
    return rows


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = _rows(terminalreporter, _PROPERTY)
    if not rows:
        return
    from mockgateway.checker._summary import cost_lines, summary_lines

    terminalreporter.write_sep("=", "mockgateway contract checks")
    for line in summary_lines(rows):
        terminalreporter.write_line(line)
    budget = terminalreporter.config.stash.get(_BUDGET, None)
    for line in cost_lines(_rows(terminalreporter, _COST_PROPERTY), budget):
        terminalreporter.write_line(line)
