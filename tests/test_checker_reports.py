"""Reports: the readable verdict, JSON, and JUnit XML in the shape JUnit viewers load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockgateway._errors import ConfigError
from mockgateway.checker import (
    RULE_IDS,
    RULES,
    CheckerSettings,
    ClientRun,
    Severity,
    check,
    render_text,
    settings_from_mapping,
    to_json,
    to_junit_xml,
    write_report,
)
from tests.checker_builders import GOOD_BODY, JournalBuilder, assert_junit_shape


def broken_journal() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, body=dict(GOOD_BODY, prompt="smile"))
    j.poll(1, "PROCESSING")
    j.poll(2, "COMPLETED")
    j.poll(3, "COMPLETED")
    return j


def test_text_verdict_names_rule_evidence_times_and_fix() -> None:
    text = render_text(check(broken_journal().entries))
    assert text.startswith("mockgateway check: FAILED: 2 error(s), 2 warning(s), 0 info")
    assert "ERROR poll-interval [doc]: Polls of one request come no closer than 5 s" in text
    assert "client ****0001: request " in text
    assert "(t+1.000 s) GET http://127.0.0.1:8080/v2/requests/status/" in text
    assert "how to fix: Sleep at least 5 s" in text
    assert "WARNING generate-undocumented-field [doc]" in text
    assert text.index("ERROR poll-interval") < text.index("WARNING download-output")
    assert "rules that held: key-header" in text


def test_text_verdict_of_a_passing_run_and_a_failed_client() -> None:
    j = JournalBuilder()
    j.careful_flow()
    run = ClientRun(command=("node", "client.js"), exit_code=3, duration=1.5)
    text = render_text(check(j.entries, client_run=run))
    assert text.startswith("mockgateway check: FAILED: 0 error(s)")
    assert "CLIENT FAILED: the client exited with status 3 (node client.js)" in text
    ok = render_text(check(j.entries, client_run=ClientRun(command=("x",), exit_code=0)))
    assert ok.startswith("mockgateway check: PASSED")


def test_client_run_descriptions() -> None:
    assert (
        "could not be started"
        in ClientRun(command=("nope",), exit_code=None, launch_error="No such file").describe()
    )
    timed = ClientRun(command=("sleep", "9"), exit_code=None, timed_out=True, duration=2.0)
    assert timed.failed
    assert "did not finish within 2.0 s" in timed.describe()


def test_json_report_round_trips_every_rule() -> None:
    data = json.loads(to_json(check(broken_journal().entries)))
    assert data["passed"] is False
    assert data["summary"]["broken_rules"] == [
        "generate-undocumented-field", "poll-interval", "poll-after-terminal", "download-output",
    ]  # fmt: skip
    assert [r["id"] for r in data["rules"]] == [r.id for r in RULES]
    poll = next(r for r in data["rules"] if r["id"] == "poll-interval")
    assert poll["severity"] == "error"
    assert poll["source"] == "doc"
    assert not poll["passed"]
    evidence = poll["violations"][0]["evidence"]
    assert evidence[0]["method"] == "GET"
    assert evidence[0]["status"] == 200
    assert evidence[1]["started_at"] - evidence[0]["started_at"] == pytest.approx(1.0)


def test_junit_report_has_one_testcase_per_rule_and_fails_broken_errors() -> None:
    verdict = check(
        broken_journal().entries,
        CheckerSettings(disabled=frozenset({"key-header"})),
        client_run=ClientRun(command=("python", "c.py"), exit_code=1, duration=0.25),
    )
    root = assert_junit_shape(to_junit_xml(verdict))
    suite = root.find("testsuite")
    assert suite is not None
    cases = {c.attrib["name"]: c for c in suite.findall("testcase")}
    assert set(cases) == RULE_IDS | {"client-run"}
    failure = cases["poll-interval"].find("failure")
    assert failure is not None
    assert failure.attrib["type"] == "poll-interval"
    assert failure.attrib["message"].startswith("poll-interval: request ")
    assert "how to fix" in (failure.text or "")
    warning = cases["download-output"]
    assert warning.find("failure") is None
    assert "WARNING download-output" in (warning.findtext("system-out") or "")
    assert cases["key-header"].find("skipped") is not None
    assert cases["client-run"].find("error") is not None
    assert suite.attrib["failures"] == "2"
    assert suite.attrib["errors"] == "1"
    assert suite.attrib["time"] == "0.250"


def test_junit_report_of_a_clean_run() -> None:
    j = JournalBuilder()
    j.careful_flow()
    root = assert_junit_shape(to_junit_xml(check(j.entries)))
    assert root.attrib["failures"] == "0"
    assert root.attrib["tests"] == str(len(RULES))


def test_junit_shape_checker_catches_a_miscount() -> None:
    j = JournalBuilder()
    j.careful_flow()
    good = to_junit_xml(check(j.entries))
    assert_junit_shape(good)
    for broken in (
        good.replace('failures="0"', 'failures="3"', 1),
        good.replace("<testcase ", '<testcase status="x" ', 1),
        good.replace('time="0"', 'time="1s"', 1),
    ):
        with pytest.raises(AssertionError):
            assert_junit_shape(broken)


def test_write_report_picks_the_format_by_suffix(tmp_path: Path) -> None:
    verdict = check(broken_journal().entries)
    write_report(verdict, tmp_path / "r.json")
    write_report(verdict, tmp_path / "r.xml")
    assert json.loads((tmp_path / "r.json").read_text())["passed"] is False
    assert_junit_shape((tmp_path / "r.xml").read_text())
    with pytest.raises(ValueError, match=r"must end in \.xml \(JUnit\), \.json or \.har"):
        write_report(verdict, tmp_path / "r.txt")


def test_settings_from_a_checker_table() -> None:
    s = settings_from_mapping(
        {"min_poll_interval": 10, "disable": ["download-output"],
         "severity": {"duplicate-submission": "error"}},
        known_rules=RULE_IDS,
    )  # fmt: skip
    assert s.min_poll_interval == 10.0
    assert s.disabled == frozenset({"download-output"})
    assert s.severities == {"duplicate-submission": Severity.ERROR}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"min_poll_interval": "5"}, "key 'checker.min_poll_interval' in f.toml: expected a non"),
        ({"disable": ["nope"]}, "key 'checker.disable' in f.toml: unknown rule id(s): nope"),
        ({"severity": {"poll-interval": "fatal"}}, "key 'checker.severity.poll-interval'"),
        ({"severity": {"nope": "info"}}, "key 'checker.severity.nope' in f.toml: unknown rule"),
        ({"colour": 1}, "key 'checker.colour' in f.toml: unknown key"),
    ],
)
def test_settings_errors_name_key_and_file(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from_mapping(table, source="f.toml", known_rules=RULE_IDS)
    assert str(err.value).startswith(message)


def test_reports_survive_text_no_xml_or_terminal_can_carry() -> None:
    j = JournalBuilder()
    j.generate(0, body=dict(GOOD_BODY, **{"pro\x00mpt": 1, "\ud800x": 2}))
    j.poll(5, "COMPLETED")
    j.media(5.1)
    verdict = check(j.entries)
    assert verdict.broken_rules == ("generate-undocumented-field",)
    root = assert_junit_shape(to_junit_xml(verdict))
    out = next(
        c for c in root.iter("testcase") if c.attrib["name"] == "generate-undocumented-field"
    )
    assert "pro\\x00mpt" in (out.findtext("system-out") or "")
    text = render_text(verdict)
    assert "pro\x00mpt" in text  # the text verdict shows it as sent
    assert "\\ud800x" in text
    text.encode("utf-8")
    assert json.loads(to_json(verdict))["summary"]["warnings"] == 1
