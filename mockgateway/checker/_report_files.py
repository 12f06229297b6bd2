"""Machine-readable verdicts: JSON, and JUnit XML that CI servers and viewers load.

JUnit: one ``<testcase>`` per rule (``classname`` says doc or recommendation) failing with
``<failure>`` when an error-severity rule was broken; warnings and infos ride along in
``<system-out>``; disabled rules are ``<skipped>``; the client's own run is one more testcase
that ends in ``<error>`` when the client failed. A run that must reach the gateway has a
``no-traffic`` testcase, and a run with a budget a ``budget`` one, each failing when broken; the
cost rides in the suite's properties.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from .._billing import money_str
from .._har import to_har
from .._journal import JournalEntry
from ._model import NO_TRAFFIC, NO_TRAFFIC_MESSAGE, RuleResult, Severity, Verdict
from ._report_text import format_result

SUITE_NAME = "mockgateway.contract"
REPORT_SUFFIXES = (".xml", ".json", ".har")
# Characters XML 1.0 cannot carry at all; client-sent text (headers, bodies) may hold them.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text: str) -> str:
    """``text`` with each character XML cannot carry shown as ``\\xNN``."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def to_json(verdict: Verdict) -> str:
    return json.dumps(verdict.to_dict(), indent=2) + "\n"


def _testcase(parent: ET.Element, result: RuleResult, origin: float | None) -> tuple[int, int]:
    rule = result.rule
    case = ET.SubElement(
        parent,
        "testcase",
        {"classname": f"{SUITE_NAME}.{rule.source.value}", "name": rule.id, "time": "0"},
    )
    if not result.enabled:
        ET.SubElement(case, "skipped", {"message": "rule disabled"})
        return 0, 1
    if not result.violations:
        return 0, 0
    text = "\n".join(format_result(result, origin))
    if result.severity is Severity.ERROR:
        first = result.violations[0].message
        more = len(result.violations) - 1
        message = f"{rule.id}: {first}" + (f" (and {more} more)" if more else "")
        failure = ET.SubElement(case, "failure", {"message": xml_safe(message), "type": rule.id})
        failure.text = xml_safe(text)
        return 1, 0
    out = ET.SubElement(case, "system-out")
    out.text = xml_safe(text)
    return 0, 0


def to_junit_xml(verdict: Verdict, *, timestamp: datetime | None = None) -> str:
    """The verdict as a JUnit XML document (``testsuites`` > ``testsuite`` > ``testcase``)."""
    stamp = (timestamp or datetime.now(UTC)).replace(microsecond=0, tzinfo=None).isoformat()
    run = verdict.client_run
    duration = f"{run.duration:.3f}" if run else "0"
    root = ET.Element("testsuites", {"name": "mockgateway check"})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": SUITE_NAME, "timestamp": stamp, "hostname": socket.gethostname() or "localhost"},
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("journal_entries", str(verdict.entry_count)),
        ("clients", ",".join(c or "-" for c in verdict.clients)),
        ("warnings", str(verdict.count(Severity.WARNING))),
        ("infos", str(verdict.count(Severity.INFO))),
        ("traffic", str(verdict.traffic)),
        ("cost_usd", money_str(verdict.cost.usd)),
        ("billed_seconds", str(verdict.cost.billed_seconds)),
        ("per_request_jobs", str(verdict.cost.per_request_jobs)),
        ("jobs", str(len(verdict.cost.jobs))),
        ("cost", verdict.cost.describe()),
    ):
        ET.SubElement(props, "property", {"name": name, "value": xml_safe(value)})
    failures = skipped = errors = 0
    for result in verdict.results:
        f, s = _testcase(suite, result, verdict.origin)
        failures += f
        skipped += s
    tests = len(verdict.results)
    checks = []
    if verdict.require_traffic:
        checks.append((NO_TRAFFIC, verdict.no_traffic, NO_TRAFFIC_MESSAGE))
    if verdict.budget is not None:
        checks.append(("budget", verdict.over_budget, verdict.budget_message()))
    for name, broken, message in checks:
        tests += 1
        case = ET.SubElement(
            suite, "testcase", {"classname": f"{SUITE_NAME}.run", "name": name, "time": "0"}
        )
        if broken:
            failures += 1
            ET.SubElement(
                case, "failure", {"message": xml_safe(message), "type": name}
            ).text = xml_safe(message)
    if run is not None:
        tests += 1
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": f"{SUITE_NAME}.client", "name": "client-run", "time": duration},
        )
        if run.failed:
            errors += 1
            err = ET.SubElement(
                case, "error", {"message": xml_safe(run.describe()), "type": "client"}
            )
            err.text = xml_safe(run.describe())
    counts = {
        "tests": str(tests),
        "failures": str(failures),
        "errors": str(errors),
        "skipped": str(skipped),
        "time": duration,
    }
    suite.attrib.update(counts)
    root.attrib.update({k: v for k, v in counts.items() if k != "skipped"})
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def write_report(
    verdict: Verdict, path: Path, entries: Iterable[JournalEntry] | None = None
) -> None:
    """Write JSON for ``*.json``, JUnit XML for ``*.xml``, the judged journal as HAR 1.2 for
    ``*.har`` (which needs ``entries``); anything else is a usage error."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = to_json(verdict)
    elif suffix == ".xml":
        text = to_junit_xml(verdict)
    elif suffix == ".har" and entries is not None:
        text = json.dumps(to_har(entries), indent=1) + "\n"
    else:
        raise ValueError(
            f"report file must end in .xml (JUnit), .json or .har (with entries), got {path.name!r}"
        )
    path.write_text(text, encoding="utf-8")
