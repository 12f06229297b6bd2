"""The pytest run's budget: add up every test's bill and fail the session when it is over.

Registered by the plugin only when ``--mockgateway-budget`` (or ``mockgateway_budget``) is set.
Reports reach ``pytest_runtest_logreport`` on the controller from every xdist worker, so the
total is the whole run's; the workers leave the verdict to the controller.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest

from ._summary import COST_PROPERTY, total_cost


def parse_budget(raw: str) -> Decimal:
    """A budget in US dollars: a finite, non-negative decimal; ValueError naming it otherwise."""
    try:
        budget = Decimal(raw)
    except InvalidOperation:
        budget = Decimal("NaN")
    if not budget.is_finite() or budget < 0:
        raise ValueError(
            f'mockgateway budget must be an amount of US dollars such as "2.50", got {raw!r}'
        )
    return budget


class BudgetWatch:
    """A pytest plugin object holding the budget and each test's encoded cost."""

    NAME = "mockgateway-budget"

    def __init__(self, budget: Decimal) -> None:
        self.budget = budget
        self.costs: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            for name, value in report.user_properties:
                if name == COST_PROPERTY and isinstance(value, str):
                    self.costs[report.nodeid] = value

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput"):
            return
        if total_cost(self.costs.items()) > self.budget:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
