"""Properties: the checker never crashes on any journal, and pace alone decides poll-interval."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway._journal import JournalEntry
from mockgateway.checker import check, render_text, to_json, to_junit_xml
from tests.checker_builders import T0, JournalBuilder

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_status_words = st.sampled_from(["QUEUED", "PROCESSING", "COMPLETED", "FAILED", "ERROR", "?"])


@st.composite
def entries(draw: st.DrawFn) -> JournalEntry:
    route = draw(st.sampled_from(["generate", "status", "media", "admin", "other", "webhook"]))
    rid = draw(st.sampled_from(["m_1", "m_2", None]))
    body: Any = draw(
        _json | st.fixed_dictionaries({"status": _status_words, "request_id": st.just("m_1")})
    )
    response: Any = draw(
        _json
        | st.fixed_dictionaries(
            {"request_id": st.just("m_1"), "status": _status_words, "polling_url": st.text()}
        )
        | st.fixed_dictionaries(
            {"status": _status_words, "output": st.fixed_dictionaries({"media_url": _json})}
        )
    )
    started = T0 + draw(st.floats(0, 100))
    return JournalEntry(
        seq=draw(st.integers(1, 10_000)),
        kind="webhook" if route == "webhook" else "request",
        route=route,
        method=draw(st.sampled_from(["GET", "POST", "PUT", "HEAD"])),
        url=draw(st.sampled_from(["", "http://h/v2/requests/status/m_1", "http://h/x?y=1"])),
        path=draw(st.sampled_from(["/", "/v2/requests/status/m_1", "/v1/m_1/output.mp4"])),
        headers=draw(
            st.dictionaries(
                st.sampled_from(
                    ["Content-Type", "ocp-apim-subscription-key", "Cache-Control", "X-Webhook-URL"]
                ),
                st.text(max_size=12),
                max_size=4,
            )
        ),
        key=draw(st.sampled_from(["****0001", "****0002", None])),
        request_id=rid,
        body=body,
        body_size=draw(st.integers(0, 100)),
        body_sha256=draw(st.sampled_from([None, "a", "b"])),
        status=draw(st.sampled_from([None, 200, 202, 400, 401, 402, 403, 404, 429, 500, 503])),
        response_headers=draw(st.dictionaries(st.just("Retry-After"), st.text(max_size=30))),
        response_body=response,
        started_at=started,
        finished_at=started + draw(st.floats(0, 10)),
        error=draw(st.sampled_from([None, "reset", "blocked: host"])),
    )


@settings(max_examples=100, deadline=None)
@given(st.lists(entries(), max_size=25))
def test_any_journal_is_judged_and_reported_without_crashing(journal: list[JournalEntry]) -> None:
    verdict = check(journal)
    assert verdict.entry_count == len(journal)
    text = render_text(verdict)
    assert text.startswith("mockgateway check: ")
    text.encode("utf-8")  # printable anywhere
    assert json.loads(to_json(verdict))["summary"]["entries"] == len(journal)
    ET.fromstring(to_junit_xml(verdict))


@settings(max_examples=60, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 20.0), min_size=1, max_size=8))
def test_poll_interval_fires_exactly_when_some_gap_is_under_five_seconds(gaps: list[float]) -> None:
    j = JournalBuilder()
    j.generate(0)
    t = 5.0
    j.poll(t, "PROCESSING")
    for gap in gaps:
        t += gap
        j.poll(t, "PROCESSING")
    broken = check(j.entries).result("poll-interval").violations
    assert bool(broken) == any(gap < 4.9 for gap in gaps)
