"""The client checker: judge how a client behaves over time against the documented contract.

Rules are pure functions over the request journal (:func:`check`); reports render a
:class:`Verdict` as text, JSON or JUnit XML.
"""

from ._engine import RULE_IDS, RULES, check, rule
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
from ._settings import CheckerSettings, settings_from_mapping

__all__ = [
    "RULES",
    "RULE_IDS",
    "CheckerSettings",
    "ClientRun",
    "Evidence",
    "Finding",
    "Rule",
    "RuleResult",
    "Severity",
    "Source",
    "Verdict",
    "Violation",
    "check",
    "render_text",
    "rule",
    "settings_from_mapping",
    "to_json",
    "to_junit_xml",
    "write_report",
]
