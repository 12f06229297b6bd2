"""The proxy's pure parts: drift rules, the drift log, the spend guard, the MP4 length reader
and the calibration fit."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import mockgateway.proxy as package
from mockgateway import ConfigError, config_from_mapping, load_config
from mockgateway.faults import faults_from_toml
from mockgateway.faults._distributions import Kind
from mockgateway.models import Per, builtin_models
from mockgateway.proxy import (
    DriftKind,
    DriftLog,
    Known,
    Level,
    SpendGuard,
    answer_drifts,
    fit_scenario,
    load_known,
    load_recordings,
    transition_drift,
    webhook_drifts,
)
from mockgateway.proxy._calibrate import fit_distribution, fit_slope, parse_time
from mockgateway.proxy._drift_log import MAX_DRIFTS, Evidence
from mockgateway.proxy._drift_report import to_junit_xml
from mockgateway.proxy._mp4 import MAX_MOOV, Mp4Duration
from mockgateway.proxy._record import kept_body, scrub

RID = "bytedance-omnihuman-v1-5-290_0192f3a1-7c4e-7d2a-9b1e-3f5c2a8d4e6b"
JSON = {"Content-Type": "application/json"}


def status_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": RID,
        "status": "COMPLETED",
        "model_id": "bytedance-omnihuman-v1-5-290",
        "error": None,
        "output": {"media_url": [f"https://cdn.test/v1/{RID}/output.mp4"],
                   "media_type": "video/mp4"},
        "created_at": "2026-03-31T10:00:00.000Z",
        "updated_at": "2026-03-31T10:00:15.000Z",
        "completed_at": "2026-03-31T10:00:15.000Z",
    }  # fmt: skip
    body.update(changes)
    return body


def drifts_of(body: Any, status: int = 200, operation: str = "getStatus") -> dict[str, DriftKind]:
    raw = json.dumps(body).encode() if not isinstance(body, bytes) else body
    return {d.id: d.kind for d in answer_drifts(operation, status, JSON, raw)}


# drift rules ----------------------------------------------------------------------------------


def test_a_documented_answer_has_no_drift() -> None:
    assert drifts_of(status_body()) == {}
    accepted = {
        "request_id": RID,
        "status": "QUEUED",
        "polling_url": f"https://x/v2/requests/status/{RID}",
    }
    assert drifts_of(accepted, 202, "generate") == {}
    doc_402 = {
        "error": "Insufficient Balance",
        "message": "Your wallet does not have enough balance.",
    }
    assert drifts_of(doc_402, 402, "generate") == {}


@pytest.mark.parametrize(
    ("body", "drift_id", "kind"),
    [
        (status_body(status="completed"), 'status-value:getStatus:$.status="completed"',
         DriftKind.STATUS_VALUE),
        ({k: v for k, v in status_body().items() if k != "model_id"},
         "missing-field:getStatus:$.model_id", DriftKind.MISSING_FIELD),
        (status_body(progress=100), "extra-field:getStatus:$.progress", DriftKind.EXTRA_FIELD),
        (status_body(output={"media_url": ["https://x/a"], "media_type": "v", "size": 1}),
         "extra-field:getStatus:$.output.size", DriftKind.EXTRA_FIELD),
        (status_body(created_at="2026-03-31T10:00:00Z"),
         "timestamp-format:getStatus:$.created_at", DriftKind.TIMESTAMP),
        (status_body(completed_at="2026-03-31 10:00:15"),
         "timestamp-format:getStatus:$.completed_at", DriftKind.TIMESTAMP),
        (status_body(model_id=5), "type:getStatus:$.model_id", DriftKind.TYPE),
    ],
)  # fmt: skip
def test_each_kind_of_body_drift(body: Any, drift_id: str, kind: DriftKind) -> None:
    assert drifts_of(body).get(drift_id) is kind


def test_status_codes_error_bodies_and_headers() -> None:
    teapot = drifts_of(b"I'm a teapot", 418)
    assert teapot == {
        "undocumented-status:getStatus:418": DriftKind.UNDOCUMENTED_STATUS,
        "error-body:getStatus:418": DriftKind.ERROR_BODY,
    }
    other_402 = {"error": "Payment Required", "message": "top up"}
    assert drifts_of(other_402, 402, "generate") == {
        "error-body:generate:402": DriftKind.ERROR_BODY
    }
    no_retry = {"statusCode": 429, "message": "Rate limit is exceeded. Try again in 2 seconds."}
    assert drifts_of(no_retry, 429) == {"header:getStatus:429.Retry-After": DriftKind.HEADER}
    assert drifts_of(b"<html>", 200) == {"not-json:getStatus:200": DriftKind.NOT_JSON}
    assert answer_drifts("getMedia", 206, {}, b"", head=True) == []


def test_documented_kinds_fail_and_the_others_warn() -> None:
    (missing,) = answer_drifts("getStatus", 200, JSON, json.dumps({"status": "QUEUED"}).encode())[
        :1
    ]
    assert missing.documented
    (extra,) = answer_drifts("getStatus", 200, JSON, json.dumps(status_body(x=1)).encode())
    assert not extra.documented


@pytest.mark.parametrize(
    ("before", "after", "illegal"),
    [
        ("QUEUED", "PROCESSING", False),
        ("QUEUED", "COMPLETED", False),  # a poll may miss a phase
        ("PROCESSING", "PROCESSING", False),
        ("PROCESSING", "QUEUED", True),
        ("COMPLETED", "PROCESSING", True),
        ("FAILED", "COMPLETED", True),
        (None, "COMPLETED", False),
    ],
)
def test_transitions(before: str | None, after: str, illegal: bool) -> None:
    drift = transition_drift(before, after, "getStatus")
    assert (drift is not None) is illegal
    if drift is not None:
        assert drift.id == f"illegal-transition:getStatus:{before}->{after}"


def test_a_callback_is_judged_as_a_status_body() -> None:
    assert webhook_drifts(json.dumps(status_body()).encode()) == []
    assert [d.kind for d in webhook_drifts(b"nope")] == [DriftKind.NOT_JSON]


# the drift log --------------------------------------------------------------------------------

EVIDENCE = Evidence(at="t", method="GET", path="/v2/requests/status/x", status=200)


def test_each_drift_is_kept_once_and_known_ones_are_info() -> None:
    log = DriftLog(known=(Known(match="extra-field:*", reason="on purpose"),))
    drifts = answer_drifts("getStatus", 200, JSON,
                           json.dumps(status_body(status="done", x=1)).encode())  # fmt: skip
    first = log.observe(drifts, EVIDENCE)
    assert len(first) == 2
    assert log.observe(drifts, EVIDENCE) == []
    records = {r.drift.kind: r for r in log.records.values()}
    assert records[DriftKind.STATUS_VALUE].count == 2
    assert records[DriftKind.STATUS_VALUE].level is Level.ERROR
    assert records[DriftKind.EXTRA_FIELD].level is Level.INFO
    assert log.failed
    xml = to_junit_xml(log)
    assert '<testcase classname="mockgateway.drift" name="status-value"' in xml
    assert "on purpose" in xml


def test_the_log_is_bounded() -> None:
    log = DriftLog()
    for i in range(MAX_DRIFTS + 3):
        log.observe([transition_drift("COMPLETED", "QUEUED", f"op{i}")], EVIDENCE)  # type: ignore[list-item]
    assert len(log.records) == MAX_DRIFTS
    assert log.overflow == 3


def test_known_drift_files(tmp_path: Path) -> None:
    good = tmp_path / "known.toml"
    good.write_text('[[known]]\nmatch = "type:*"\nreason = "r"\n')
    assert load_known(good) == (Known(match="type:*", reason="r"),)
    bad = tmp_path / "bad.toml"
    bad.write_text('[[known]]\nreason = "r"\n')
    with pytest.raises(ConfigError, match=r"known\[0\]\.match"):
        load_known(bad)
    typo = tmp_path / "typo.toml"
    typo.write_text('[[known]]\nmatch = "x"\nwhy = "r"\n')
    with pytest.raises(ConfigError, match="unknown key"):
        load_known(typo)


# the spend guard ------------------------------------------------------------------------------

MODELS = {"m": replace(builtin_models()[0], id="m")}  # 0.16 USD a second, 30 s at 1080p


def test_generate_needs_allow_billable_and_a_known_price() -> None:
    assert "--allow-billable" in (SpendGuard(models=MODELS).check("m") or "")
    guard = SpendGuard(allow_billable=True, models=MODELS)
    assert guard.check("m") is None
    assert "no price is known for model 'x'" in (guard.check("x") or "")
    assert guard.refused == 1


def test_spend_counts_the_most_a_job_can_cost_until_it_is_measured() -> None:
    guard = SpendGuard(allow_billable=True, budget=Decimal("10.00"), models=MODELS)
    guard.accepted("a", "m", "480p")
    assert guard.spend == Decimal("9.60")  # 60 s at 480p
    assert "more than the 0.40 USD left of --budget 10.00 USD" in (guard.check("m") or "")
    guard.measured("a", 2.04)
    assert guard.spend == Decimal("0.48")  # 3 billed seconds
    assert guard.check("m") is None  # 0.48 + 4.80 at 1080p fits in 10.00
    assert "could cost up to 9.60 USD" in (guard.check("m", "480p") or "")  # 10.08 would not
    guard.accepted("b", "m", None)  # the default resolution, 1080p: at most 30 s
    assert guard.spend == Decimal("0.48") + Decimal("4.80")
    guard.observed("b", "ERROR")
    assert guard.spend == Decimal("0.48")


def test_failed_jobs_cost_only_when_the_configuration_charges_them() -> None:
    for charge_failed, want in ((False, Decimal(0)), (True, Decimal("0.32"))):
        guard = SpendGuard(allow_billable=True, models=MODELS, charge_failed=charge_failed)
        guard.accepted("a", "m", "720p")
        guard.measured("a", 2.0)
        guard.observed("a", "FAILED")
        assert guard.spend == want


def test_a_model_priced_per_request_costs_its_price_whatever_its_length() -> None:
    flat = {"v": replace(builtin_models()[0], id="v", price=Decimal("0.35"), per=Per.REQUEST)}
    guard = SpendGuard(allow_billable=True, budget=Decimal("1.00"), models=flat)
    assert guard.check("v") is None
    guard.accepted("a", "v", "1080p")
    assert guard.spend == Decimal("0.35")  # its most is its price: nothing waits on a length
    assert guard.unpriced == 0
    guard.measured("a", 59.0)
    guard.observed("a", "COMPLETED")
    assert guard.spend == Decimal("0.35")
    bill = guard.billing("a")
    assert bill is not None
    assert (bill["per"], bill["price"], bill["billed_seconds"]) == ("request", "0.35", 0)
    assert bill["price_per_second"] is None
    assert "USD per request" in (SpendGuard(models=flat).check("v") or "")
    guard.accepted("b", "v", None)
    assert "could cost up to 0.35 USD" in (guard.check("v") or "")  # 0.70 + 0.35 > 1.00


def test_the_spend_guard_reads_a_models_resolution_by_its_own_rule() -> None:
    """A model whose resolution field is "quality" (default 720p, 60 s there): a body leaving it
    out is costed at 720p's 60 s, not at 1080p's 5 s."""
    config = config_from_mapping(
        {
            "models": [
                {
                    "id": "vx",
                    "operation": "go",
                    "output": "video",
                    "price_per_second": "1.00",
                    "resolution": {"field": "quality", "default": "720p"},
                    "duration": {"field": "d", "default": 5},
                    "limits": {"max_seconds": {"1080p": 5, "720p": 60}},
                    "request_schema": {
                        "type": "object",
                        "properties": {
                            "quality": {"type": "string", "enum": ["720p", "1080p"]},
                            "d": {"type": "number", "maximum": 59},
                        },
                    },
                }
            ]
        }
    )
    model = next(m for m in config.models if m.id == "vx")
    assert model.resolution_in({"d": 59}) == "720p"
    assert model.resolution_in({"quality": "1080p"}) == "1080p"
    assert model.resolution_in({"quality": "4k"}) == "720p"
    guard = SpendGuard(allow_billable=True, budget=Decimal("10"), models={"vx": model})
    refusal = guard.check("vx", model.resolution_in({"d": 59}))
    assert refusal is not None
    assert "could cost up to 60.00 USD" in refusal


# the MP4 length reader ------------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def mvhd(version: int, scale: int, length: int) -> bytes:
    if version == 1:
        return box(b"mvhd", bytes([1, 0, 0, 0]) + bytes(16) + struct.pack(">IQ", scale, length))
    return box(b"mvhd", bytes(4) + bytes(8) + struct.pack(">II", scale, length) + bytes(80))


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_the_length_comes_from_moov_after_mdat(chunk: int) -> None:
    data = box(b"ftyp", b"isom" + bytes(8)) + box(b"mdat", bytes(50_000))
    data += box(b"moov", mvhd(0, 1000, 3040) + box(b"trak", bytes(20)))
    scanner = Mp4Duration()
    for i in range(0, len(data), chunk):
        scanner.feed(data[i : i + chunk])
    assert scanner.duration == pytest.approx(3.04)


def test_version_1_and_64_bit_sizes() -> None:
    big = struct.pack(">I4sQ", 1, b"mdat", 16 + 10) + bytes(10)
    scanner = Mp4Duration()
    scanner.feed(big + box(b"moov", mvhd(1, 90000, 90000 * 5)))
    assert scanner.duration == 5.0


def test_what_is_not_an_mp4_gives_no_length() -> None:
    scanner = Mp4Duration()
    scanner.feed(b"\x00\x00\x00\x02junk" + bytes(20))
    assert scanner.failed
    assert scanner.duration is None
    huge = Mp4Duration()
    huge.feed(struct.pack(">I4s", MAX_MOOV + 1, b"moov") + bytes(8))
    assert huge.failed


# calibration ----------------------------------------------------------------------------------


def test_the_fit_picks_the_shape_of_the_data() -> None:
    rng = random.Random(1)
    assert fit_distribution([4.0] * 50).kind is Kind.FIXED
    assert fit_distribution([rng.uniform(2, 6) for _ in range(400)]).kind is Kind.UNIFORM
    fitted = fit_distribution([rng.lognormvariate(1.5, 0.5) for _ in range(400)])
    assert fitted.kind is Kind.LOGNORMAL
    assert fitted.mu == pytest.approx(1.5, abs=0.1)


def test_a_slope_only_where_the_data_shows_one() -> None:
    rng = random.Random(2)
    xs = [rng.choice([1.0, 2.0, 4.0, 6.0]) for _ in range(200)]
    ys = [3 + 2 * x + rng.uniform(-0.5, 0.5) for x in xs]
    ys[:10] = [90.0] * 10  # stalled jobs do not drag a robust fit
    slope = fit_slope(xs, ys)
    assert slope is not None
    assert slope.per_second == pytest.approx(2.0, abs=0.1)
    assert fit_slope(xs, [rng.uniform(5, 9) for _ in xs]) is None
    assert fit_slope([3.0] * 20, [float(i) for i in range(20)]) is None


def test_timestamps() -> None:
    assert parse_time("2026-03-31T10:00:15.000Z") == parse_time("2026-03-31T10:00:15+00:00")
    assert parse_time("2026-03-31T10:00:15") is None  # no zone: not a time the fit can use
    assert parse_time(5) is None


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _job(i: int, status: str, error: str | None = None) -> dict[str, Any]:
    created = 1_000_000.0 + i * 100
    return {
        "request_id": f"r{i}", "model_id": "m", "resolution": "720p", "status": status,
        "error": error, "created_at": stamp(created), "completed_at": stamp(created + 10 + 5),
        "output_seconds": 3.0,
        "transitions": [{"status": "QUEUED", "updated_at": None},
                        {"status": "PROCESSING", "updated_at": stamp(created + 10)},
                        {"status": status, "updated_at": stamp(created + 15)}],
    }  # fmt: skip


def test_a_fitted_scenario_loads_as_the_gateway_configuration(tmp_path: Path) -> None:
    jobs = [_job(i, "COMPLETED") for i in range(16)]
    jobs += [_job(16 + i, "FAILED", 'no "face"') for i in range(4)]
    limited = {
        "_kind": "request",
        "_route": "generate",
        "comment": "",
        "response": {"status": 429, "headers": [{"name": "Retry-After", "value": "7"}]},
    }
    accepted = {**limited, "response": {"status": 202, "headers": []}}
    har = {"log": {"_jobs": jobs, "entries": [limited, accepted, accepted, accepted]}}  # fmt: skip
    fit = fit_scenario(load_recordings([har]))
    profile = tmp_path / "profile.toml"
    profile.write_text(fit.toml)
    config = load_config(profile)
    delays = config.faults.delays
    assert delays.for_model("m", "queue", "720p") is not None
    assert delays.for_model("m", "queue", "720p").seconds == 10.0  # type: ignore[union-attr]
    assert delays.for_model("m", "processing", "720p").seconds == 5.0  # type: ignore[union-attr]
    (fail, limit) = faults_from_toml(fit.toml, "p").rules
    assert fail.probability == pytest.approx(0.2)
    assert fail.action.message == 'no "face"'  # type: ignore[union-attr]
    assert limit.probability == pytest.approx(0.25)
    assert limit.action.retry_after == 7  # type: ignore[union-attr]
    assert any("n=20, median recorded 10.000 s fitted 10.000 s" in q for q in fit.quality)


def test_the_budget_counts_the_new_jobs_own_maximum() -> None:
    """spend + in flight + this job's most must stay within the budget: the first 1080p job
    (at most 4.80 USD) already does not fit in 1.00."""
    guard = SpendGuard(allow_billable=True, budget=Decimal("1.00"), models=MODELS)
    refused = guard.check("m", "1080p") or ""
    assert "this job could cost up to 4.80 USD" in refused
    assert "more than the 1.00 USD left of --budget 1.00 USD" in refused
    exact = SpendGuard(allow_billable=True, budget=Decimal("4.80"), models=MODELS)
    assert exact.check("m", "1080p") is None  # exactly the budget: never past it
    exact.accepted("a", "m", "1080p")
    exact.measured("a", 0.5)  # 1 billed second: 0.16
    assert exact.check("m", "1080p") is not None  # 0.16 + 4.80 > 4.80


@pytest.mark.parametrize(
    ("job", "named"),
    [
        (5, "log._jobs[0] must be an object"),
        ({"model_id": 5}, "log._jobs[0].model_id must be a string or null, got 5"),
        ({"model_id": "m", "transitions": "no"}, 'transitions must be a list or null, got "no"'),
        ({"transitions": [3]}, "log._jobs[0].transitions[0] must be an object"),
        ({"transitions": [{"status": 1}]}, "transitions[0].status must be a string"),
        ({"output_seconds": "3"}, "output_seconds must be a number or null"),
    ],
)
def test_a_malformed_job_in_a_recording_is_named(job: Any, named: str) -> None:
    with pytest.raises(ValueError, match="recording 1: ") as caught:
        load_recordings([{"log": {"_jobs": [job]}}])
    assert named in str(caught.value)


def test_a_file_that_is_not_a_proxy_recording_is_named() -> None:
    with pytest.raises(ValueError, match=r"recording 2 has no log\._jobs"):
        load_recordings([{"log": {"_jobs": []}}, {"log": {"entries": []}}])


def test_a_generate_on_its_way_counts_until_its_answer() -> None:
    guard = SpendGuard(allow_billable=True, budget=Decimal("10.00"), models=MODELS)
    held = guard.reserve("m", None)  # 1080p: at most 30 s
    assert held == Decimal("4.80")
    assert guard.check("m") is None  # 4.80 + 4.80 <= 10.00
    second = guard.reserve("m", "720p")
    refused = guard.check("m") or ""
    assert "more than the 0.00 USD left of --budget 10.00 USD" in refused
    assert "14.40 USD on its way" in refused
    guard.release(second)
    guard.release(held)
    assert guard.in_flight == 0
    assert guard.check("m") is None


def test_a_key_an_upstream_echoes_is_cut_before_it_is_kept() -> None:
    key = "team-secret-key-7788"
    echoed = json.dumps({"error": "Unauthorized", "message": f"key {key} is not known"}).encode()
    kept, cut = kept_body(echoed, key)
    assert kept == {"error": "Unauthorized", "message": "key ****7788 is not known"}
    assert not cut
    assert kept_body(f"text with {key}".encode(), key)[0] == "text with ****7788"
    assert scrub(f"/v2/requests/status/{key}", key) == "/v2/requests/status/****7788"


def test_a_resolution_the_format_does_not_know_is_left_out() -> None:
    job = {**_job(0, "COMPLETED"), "resolution": "4k"}
    fit = fit_scenario(load_recordings([{"log": {"_jobs": [job], "entries": []}}]))
    faults_from_toml(fit.toml, "p")  # loads
    assert "4k" not in fit.toml
    assert "m 4k: 1 job(s) left out: not a resolution" in fit.quality


def test_the_subpackage_exports_what_it_lists_sorted() -> None:
    assert package.__all__ == sorted(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)
