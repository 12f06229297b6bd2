"""Each rule fires on a journal that breaks it, and only it; a careful journal breaks none."""

from __future__ import annotations

import email.utils
from collections.abc import Callable

import pytest

from mockgateway import config_from_mapping
from mockgateway.checker import RULE_IDS, RULES, CheckerSettings, Severity, Source, check
from mockgateway.checker._rules_retry import retry_after_seconds
from mockgateway.models import ModelSpec
from tests.checker_builders import BASE, GOOD_BODY, GOOD_HEADERS, MODEL, T0, JournalBuilder, rid


def careful() -> JournalBuilder:
    j = JournalBuilder()
    j.careful_flow()
    return j


def missing_key() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "QUEUED")
    j.poll(10, "COMPLETED", key=None)  # forgot the header on one poll
    j.media(10.1)
    return j


def form_encoded() -> JournalBuilder:
    j = JournalBuilder()
    headers = dict(GOOD_HEADERS, **{"Content-Type": "application/x-www-form-urlencoded"})
    j.generate(0, headers=headers)
    j.poll(5, "COMPLETED")
    j.media(5.1)
    return j


def no_cache_control() -> JournalBuilder:
    j = JournalBuilder()
    headers = {k: v for k, v in GOOD_HEADERS.items() if k != "Cache-Control"}
    j.generate(0, headers=headers)
    j.poll(5, "COMPLETED")
    j.media(5.1)
    return j


def unknown_model() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, path="/omnihuman-v2/v1/omnihuman-v2-request", status=404, response={})
    return j


def bad_resolution() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, body=dict(GOOD_BODY, resolution="4k"), status=400, response={"error": "Bad"})
    return j


def extra_field() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, body=dict(GOOD_BODY, prompt="smile"))
    j.poll(5, "COMPLETED")
    j.media(5.1)
    return j


def polls_fast() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0)
    for i in range(1, 6):
        j.poll(i, "PROCESSING")
    j.poll(6, "COMPLETED")
    j.media(6.1)
    return j


def builds_own_url() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0)
    own = f"/bytedance-omnihuman-v1-5-290/v1/requests/{rid()}"
    j.poll(5, "QUEUED", path=own, status=404, route="other")
    j.poll(10, "COMPLETED")
    j.media(10.1)
    return j


def polls_after_done() -> JournalBuilder:
    j = careful()
    j.poll(20, "COMPLETED")
    return j


def ignores_retry_after() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, status=429, response={"statusCode": 429}, response_headers={"Retry-After": "3"})
    j.generate(1)
    j.poll(6, "COMPLETED")
    j.media(6.1)
    return j


def hammers_402() -> JournalBuilder:
    j = JournalBuilder()
    for t in (0, 1, 2):
        j.generate(t, status=402, response={"error": "Insufficient Balance"})
    return j


def retries_at_once() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0, status=500, response={"error": "Internal Server Error"})
    j.generate(0.05)
    j.poll(5.05, "COMPLETED")
    j.media(5.1)
    return j


def no_download() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "COMPLETED")
    return j


def webhook_500() -> JournalBuilder:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, status=500)
    j.webhook(4, status=500)
    return j


def double_submit() -> JournalBuilder:
    j = JournalBuilder()
    j.careful_flow(0, n=1, body=GOOD_BODY)
    j.careful_flow(20, n=2, body=GOOD_BODY)
    return j


CARELESS: dict[str, Callable[[], JournalBuilder]] = {
    "key-header": missing_key,
    "generate-content-type": form_encoded,
    "generate-cache-control": no_cache_control,
    "generate-model": unknown_model,
    "generate-body-schema": bad_resolution,
    "generate-undocumented-field": extra_field,
    "poll-interval": polls_fast,
    "poll-polling-url": builds_own_url,
    "poll-after-terminal": polls_after_done,
    "retry-after-429": ignores_retry_after,
    "resubmit-after-rejection": hammers_402,
    "backoff-after-5xx": retries_at_once,
    "download-output": no_download,
    "webhook-receiver-2xx": webhook_500,
    "duplicate-submission": double_submit,
}


def test_every_rule_has_a_careless_journal() -> None:
    assert set(CARELESS) == RULE_IDS


def test_rules_are_described() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.statement.endswith(".")
        assert "\n" not in r.statement
        assert r.how_to_fix
        assert isinstance(r.severity, Severity)
        assert isinstance(r.source, Source)
    severities = {r.id: r.severity for r in RULES}
    assert severities["generate-cache-control"] is Severity.INFO
    assert severities["download-output"] is Severity.WARNING
    assert severities["duplicate-submission"] is Severity.WARNING
    assert severities["poll-interval"] is Severity.ERROR


def test_careful_journal_breaks_nothing() -> None:
    verdict = check(careful().entries)
    assert verdict.violations == ()
    assert verdict.passed


@pytest.mark.parametrize("rule_id", sorted(CARELESS))
def test_careless_journal_breaks_exactly_its_rule(rule_id: str) -> None:
    verdict = check(CARELESS[rule_id]().entries)
    assert verdict.broken_rules == (rule_id,)
    result = verdict.result(rule_id)
    assert result.violations[0].evidence, "a violation cites the entries proving it"
    assert verdict.contract_passed is (result.severity is not Severity.ERROR)


def test_poll_interval_cites_the_close_polls_with_times() -> None:
    (v,) = check(polls_fast().entries).result("poll-interval").violations
    assert "shortest 1.000 s" in v.message
    assert [e.started_at - T0 for e in v.evidence][:3] == [1, 2, 3]
    assert v.client == "****0001"


def test_poll_interval_is_measured_on_gateway_time_with_tolerance() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "QUEUED")
    j.poll(9.95, "PROCESSING")  # 4.95 s: within the default 0.1 s tolerance
    j.poll(14.8, "COMPLETED")  # 4.85 s: too close
    j.media(15)
    (v,) = check(j.entries).result("poll-interval").violations
    assert "1 of 2 gaps" in v.message
    strict = CheckerSettings(tolerance=0.0)
    assert "2 of 2 gaps" in check(j.entries, strict).result("poll-interval").violations[0].message


def test_polls_of_different_jobs_and_clients_are_separate() -> None:
    j = JournalBuilder()
    j.careful_flow(0, n=1, key="****0001")
    j.careful_flow(1, n=2, key="****0002")
    j.careful_flow(2, n=3, key="****0001")
    assert check(j.entries).violations == ()


def test_poll_after_terminal_counts_a_delivered_webhook() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, job="FAILED")
    j.poll(6, "FAILED")
    verdict = check(j.entries)
    assert verdict.broken_rules == ("poll-after-terminal",)
    assert "seen it FAILED" in verdict.violations[0].message


def test_failed_webhook_delivery_does_not_count_as_seen() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, job="COMPLETED", status=None, error="connection refused")
    j.poll(6, "COMPLETED")
    j.media(6.1)
    verdict = check(j.entries)
    assert verdict.broken_rules == ("webhook-receiver-2xx",)


def test_webhook_receiver_too_slow() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, took=7.5)
    j.media(11)
    (v,) = check(j.entries).result("webhook-receiver-2xx").violations
    assert "answered after 7.500 s" in v.message
    assert check(j.entries, CheckerSettings(webhook_answer_within=10)).violations == ()


def test_poll_of_an_id_never_given() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "QUEUED", n=7, status=404)
    j.poll(10, "COMPLETED")
    j.media(10.1)
    (v,) = check(j.entries).result("poll-polling-url").violations
    assert "never gave it" in v.message


def test_retry_after_honoured_passes_and_http_date_form_is_read() -> None:
    j = JournalBuilder()
    j.generate(0, status=429, response={"statusCode": 429}, response_headers={"Retry-After": "3"})
    j.generate(3.02)
    j.poll(8.02, "COMPLETED")
    j.media(8.1)
    assert check(j.entries).violations == ()

    dated = JournalBuilder()
    when = email.utils.formatdate(T0 + 10, usegmt=True)
    e = dated.generate(0, status=429, response_headers={"Retry-After": when}, response={})
    assert retry_after_seconds(e) == pytest.approx(10 - 0.01)
    assert retry_after_seconds(dated.generate(2, status=202)) is None
    dated.generate(4)
    (v,) = check(dated.entries).result("retry-after-429").violations
    assert "Retry-After: 9.99" in v.message


def test_requests_in_flight_when_429_arrives_are_not_judged() -> None:
    j = JournalBuilder()
    j.generate(0, n=1)
    j.generate(0.5, n=2, body=dict(GOOD_BODY, resolution="480p"))
    j.poll(5.0, "QUEUED", n=1, status=429, response_headers={"Retry-After": "2"})
    j.poll(5.005, "QUEUED", n=2)  # started before the 429 was answered
    j.poll(7.02, "COMPLETED", n=1)
    j.poll(12, "COMPLETED", n=2)
    j.media(12.1, n=1)
    j.media(12.2, n=2)
    assert check(j.entries).result("retry-after-429").violations == ()


def test_resubmission_after_a_change_is_fine() -> None:
    j = JournalBuilder()
    j.generate(0, status=402, response={"error": "Insufficient Balance"})
    j.admin(1, "PUT", "/_mock/wallets/key")  # the operator topped the wallet up
    j.careful_flow(2)
    assert check(j.entries).violations == ()

    fixed = JournalBuilder()
    fixed.generate(0, body=dict(GOOD_BODY, resolution="4k"), status=400, response={})
    fixed.careful_flow(1)
    assert check(fixed.entries).broken_rules == ("generate-body-schema",)


def test_403_resubmission_after_the_quota_replenishes_is_fine() -> None:
    msg = "Out of call volume quota. Quota will be replenished in 00:00:30."
    j = JournalBuilder()
    j.generate(0, status=403, response={"statusCode": 403, "message": msg})
    j.generate(10, status=403, response={"statusCode": 403, "message": msg})
    j.careful_flow(45)
    (v,) = check(j.entries).result("resubmit-after-rejection").violations
    assert "1 time(s) after a 403" in v.message
    assert [e.seq for e in v.evidence] == [1, 2]


def test_backoff_chain_must_grow_and_broken_connections_count() -> None:
    good = JournalBuilder()
    good.generate(0, error="connection reset")
    good.generate(1.1, error="connection reset")
    good.generate(3.2, status=500, response={})
    good.careful_flow(7.3)
    assert check(good.entries).result("backoff-after-5xx").violations == ()

    flat = JournalBuilder()  # every 2 s: the schedule (1, 1.5, 2.25 s...) passes it at the third
    for at in (0, 2, 4, 6):
        flat.generate(at, status=500, response={})
    (v,) = check(flat.entries).result("backoff-after-5xx").violations
    assert "should have waited at least 2.250" in v.message
    assert len(v.evidence) == 4
    assert check(flat.entries[:3]).result("backoff-after-5xx").violations == ()


def test_backoff_is_judged_by_the_schedule_not_by_a_late_wait_before() -> None:
    """A retry slept 1 s but ran 1.6 s late on a busy machine; the next, 2 s, is still enough:
    the bar is the schedule's 1.5 s, not 1.5x the late 1.6 s."""
    j = JournalBuilder()
    for at in (0, 1.6, 3.7):
        j.generate(at, status=500, response={})
    j.careful_flow(8)
    assert check(j.entries).result("backoff-after-5xx").violations == ()


def test_status_poll_errors_are_retried_per_job() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "QUEUED", status=503)
    j.poll(5.2, "QUEUED")
    j.poll(10.2, "COMPLETED")
    j.media(10.3)
    verdict = check(j.entries)
    assert verdict.broken_rules == ("backoff-after-5xx",)  # a retry, not a poll too soon
    (v,) = verdict.result("backoff-after-5xx").violations
    assert v.message.startswith("first retry came 0.190 s after a 503")


def test_duplicates_outside_the_window_are_fine() -> None:
    j = JournalBuilder()
    j.careful_flow(0, n=1, body=GOOD_BODY)
    j.careful_flow(100, n=2, body=GOOD_BODY)
    assert check(j.entries).violations == ()
    assert check(j.entries, CheckerSettings(duplicate_window=200)).broken_rules == (
        "duplicate-submission",
    )


def test_non_json_and_missing_bodies() -> None:
    j = JournalBuilder()
    j.generate(0, body="image_url=x", status=400, response={})
    j.generate(1, body={"image_url": 5}, status=400, response={})
    messages = [v.message for v in check(j.entries).result("generate-body-schema").violations]
    assert messages[0] == f"generate body for {MODEL} is empty or not JSON"
    assert "at $.image_url: 5 is not of type 'string'" in messages[1]
    assert "'audio_url' is a required property" in messages[1]


def test_admin_and_media_requests_are_not_judged_for_the_key() -> None:
    j = careful()
    j.admin(30, "GET", "/_mock/journal")
    assert check(j.entries).violations == ()


def test_severity_overrides_and_disabled_rules() -> None:
    entries = polls_fast().entries
    soft = CheckerSettings(severities={"poll-interval": Severity.WARNING})
    verdict = check(entries, soft)
    assert verdict.broken_rules == ("poll-interval",)
    assert verdict.passed
    off = check(entries, CheckerSettings(disabled=frozenset({"poll-interval"})))
    assert off.violations == ()
    assert not off.result("poll-interval").enabled


def test_an_empty_journal_passes() -> None:
    verdict = check([])
    assert verdict.passed
    assert verdict.entry_count == 0
    assert verdict.origin is None


def test_urls_compare_by_path_so_the_host_spelling_does_not_matter() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.add(
        5,
        route="status",
        path=f"/v2/requests/status/{rid()}",
        url=f"http://localhost:8080/v2/requests/status/{rid()}",
        headers={"ocp-apim-subscription-key": "****0001"},
        key="****0001",
        request_id=rid(),
        status=200,
        response_body={"status": "COMPLETED", "output": None},
    )
    assert check(j.entries).violations == ()
    assert BASE.startswith("http://127.0.0.1")


def test_webhooks_the_operator_blocked_are_not_the_receivers_fault() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, status=None, error="blocked: host 'your-server.com' is not allowed")
    j.poll(5, "COMPLETED")
    j.media(5.1)
    assert check(j.entries).violations == ()


def test_a_terminal_answer_cut_in_transit_was_not_seen() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "COMPLETED", error="injected fault: body truncated after 10 of 300 bytes")
    j.poll(11, "COMPLETED")
    j.media(11.1)
    assert check(j.entries).violations == ()


def test_a_body_the_gateway_never_read_is_not_judged() -> None:
    j = JournalBuilder()
    e = j.generate(0, status=429, response={}, response_headers={"Retry-After": "1"})
    j.entries[-1] = type(e)(**{**e.to_dict(), "body": None, "body_size": 0, "notes": ()})
    j.careful_flow(2)
    assert check(j.entries).violations == ()
    empty = JournalBuilder()
    e = empty.generate(0, status=400, response={})
    empty.entries[-1] = type(e)(**{**e.to_dict(), "body": None, "body_size": 0, "notes": ()})
    assert check(empty.entries).broken_rules == ("generate-body-schema",)


def test_a_retry_of_a_refused_poll_is_judged_by_the_retry_rules_only() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.poll(5, "QUEUED", status=429, response_headers={"Retry-After": "2"})
    j.poll(7.05, "QUEUED")  # honours Retry-After; not "a poll 2 s after a poll"
    j.poll(12.05, "COMPLETED")
    j.media(12.1)
    assert check(j.entries).violations == ()
    hasty = JournalBuilder()
    hasty.generate(0)
    hasty.poll(5, "QUEUED")
    hasty.poll(6, "QUEUED", status=429, response_headers={"Retry-After": "2"})
    hasty.poll(8.05, "COMPLETED")
    hasty.media(8.1)
    (v,) = check(hasty.entries).result("poll-interval").violations
    assert "1 of 1 gaps" in v.message  # the poll that drew the 429 came too soon


def test_the_webhook_answer_budget_is_real_time_under_a_scaled_clock() -> None:
    j = JournalBuilder()
    j.generate(0)
    j.webhook(3, took=2.0)  # 40 ms of real time at speed 50: prompt
    j.media(5)
    assert check(j.entries, CheckerSettings().at_speed(50)).violations == ()
    j.webhook(6, took=300.0)  # 6 real seconds at speed 50: not prompt
    assert check(j.entries, CheckerSettings().at_speed(50)).broken_rules == (
        "webhook-receiver-2xx",
    )
    assert CheckerSettings().at_speed(1) == CheckerSettings()


def declared(*rows: dict[str, object]) -> tuple[ModelSpec, ...]:
    """The built-in models with ``rows`` declared beside them, as a configuration does."""
    return config_from_mapping({"models": list(rows)}).models


TTI = {
    "id": "tti", "operation": "tti-request", "output": "image", "price": "0.04",
    "request_schema": {
        "type": "object", "required": ["prompt"],
        "properties": {"prompt": {"type": "string", "minLength": 1}},
    },
}  # fmt: skip


def test_a_body_is_judged_by_the_schema_of_the_model_its_path_calls() -> None:
    models = declared(TTI)
    j = JournalBuilder()
    j.generate(0, n=1, path="/tti/v1/tti-request", body={"prompt": "a lighthouse"})
    j.generate(1, n=2, path="/tti/v1/tti-request", body=GOOD_BODY, status=400, response={})
    j.generate(2, n=3, body={**GOOD_BODY, "prompt": "smile"})
    verdict = check(j.entries, models=models)
    (schema,) = verdict.result("generate-body-schema").violations
    assert schema.message == (
        "generate body for tti breaks its request schema: at $: 'prompt' is a required property"
    )
    assert schema.evidence[0].seq == 2
    extra = [v.message for v in verdict.result("generate-undocumented-field").violations]
    assert extra == [
        "generate body for tti carries field(s) its request schema does not document: "
        "audio_url, image_url, resolution",
        f"generate body for {MODEL} carries field(s) its request schema does not document: prompt",
    ]
    # judged by the built-in models alone, the tti path names no model
    (unknown,) = check(j.entries[:1]).result("generate-model").violations
    assert unknown.message == (
        f"generate request to /tti/v1/tti-request: no model 'tti' is declared here (served: {MODEL})"
    )


def test_a_wrong_operation_or_a_switched_off_model_is_no_model_served() -> None:
    models = declared(TTI, {"id": "tti-old", "operation": "o", "price": "1", "enabled": False})
    j = JournalBuilder()
    j.generate(0, path="/tti/v1/bytedance-omnihuman-v1-5-request", status=404, response={})
    j.generate(1, path="/tti-old/v1/o", body={"nonsense": True}, status=404, response={})
    verdict = check(j.entries, models=models)
    assert verdict.broken_rules == ("generate-model",)  # no schema to judge either body by
    assert [v.message for v in verdict.result("generate-model").violations] == [
        "generate request to /tti/v1/bytedance-omnihuman-v1-5-request: model 'tti' has no "
        "operation 'bytedance-omnihuman-v1-5-request'; its generate path is /tti/v1/tti-request",
        "generate request to /tti-old/v1/o: model 'tti-old' is declared but switched off "
        "(enabled = false)",
    ]


def test_what_the_gateway_refuses_beyond_the_schema_is_named() -> None:
    itv = {**TTI, "id": "itv", "operation": "itv-request", "output": "video",
           "inputs": {"image_url": "image"}, "duration": {"seconds": 5},
           "request_schema": {"type": "object", "required": ["image_url"],
                              "properties": {"image_url": {"type": "string"}}}}  # fmt: skip
    j = JournalBuilder()
    j.generate(0, path="/itv/v1/itv-request", body={"image_url": "face.png"}, status=400,
               response={})  # fmt: skip
    (v,) = check(j.entries, models=declared(itv)).result("generate-body-schema").violations
    assert v.message == (
        "generate body for itv is refused: image_url must be an absolute http(s) or data: URL,"
        " got 'face.png'"
    )
