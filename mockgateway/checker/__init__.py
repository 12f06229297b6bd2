"""The client checker: judge how a client behaves over time against the documented contract.

Rules are pure functions over the request journal (:func:`check`); reports render a
:class:`Verdict` as text, JSON or JUnit XML; :func:`run_check` serves a gateway, runs a client
command against it and judges the result; :class:`MockGateway` is the pytest fixture's handle.
"""

from ._cost import Cost, JobCost, cost_of
from ._engine import RULE_IDS, RULES, check, rule
from ._fixture import MockGateway
from ._model import (
    ClientRun,
    Evidence,
    Finding,
    Rule,
    RuleResult,
    Severity,
    Source,
    Verdict,
    Violation,
)
from ._report_files import to_json, to_junit_xml, write_report
from ._report_text import render_text
from ._run import CheckSetup, judge_saved, load_saved, load_setup, run_check
from ._settings import CheckerSettings, settings_from_mapping

__all__ = [
    "RULES",
    "RULE_IDS",
    "CheckSetup",
    "CheckerSettings",
    "ClientRun",
    "Cost",
    "Evidence",
    "Finding",
    "JobCost",
    "MockGateway",
    "Rule",
    "RuleResult",
    "Severity",
    "Source",
    "Verdict",
    "Violation",
    "check",
    "cost_of",
    "judge_saved",
    "load_saved",
    "load_setup",
    "render_text",
    "rule",
    "run_check",
    "settings_from_mapping",
    "to_json",
    "to_junit_xml",
    "write_report",
]
