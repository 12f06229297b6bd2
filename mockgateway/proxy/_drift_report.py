"""The drift report as JSON or JUnit XML, for CI. Pure.

JUnit: one ``<testcase>`` per drift kind; a kind with a documented drift fails with
``<failure>``; warnings and known (info) drifts ride along in ``<system-out>``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..checker._report_files import xml_safe
from ._drift import DriftKind
from ._drift_log import DriftLog, Level

SUITE_NAME = "mockgateway.drift"
REPORT_SUFFIXES = (".json", ".xml")


def to_json(log: DriftLog, extra: dict[str, Any] | None = None) -> str:
    return json.dumps({**log.to_dict(), **(extra or {})}, indent=2) + "\n"


def to_junit_xml(log: DriftLog) -> str:
    root = ET.Element("testsuites", {"name": "mockgateway proxy"})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME})
    failures = 0
    for kind in DriftKind:
        records = [r for r in log.records.values() if r.drift.kind is kind]
        case = ET.SubElement(
            suite, "testcase", {"classname": SUITE_NAME, "name": kind.value, "time": "0"}
        )
        if not records:
            continue
        text = "\n".join(r.line() for r in records)
        errors = [r for r in records if r.level is Level.ERROR]
        if errors:
            failures += 1
            message = f"{kind.value}: {errors[0].drift.message}"
            failure = ET.SubElement(case, "failure", {"message": xml_safe(message)})
            failure.text = xml_safe(text)
        else:
            ET.SubElement(case, "system-out").text = xml_safe(text)
    suite.set("tests", str(len(DriftKind)))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def write_report(log: DriftLog, path: Path, extra: dict[str, Any] | None = None) -> None:
    text = to_junit_xml(log) if path.suffix.lower() == ".xml" else to_json(log, extra)
    path.write_text(text, encoding="utf-8")
