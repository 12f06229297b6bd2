"""One job through its whole life: status shapes, the flow, timestamps, output and media."""

from __future__ import annotations

import itertools

import pytest

from mockgateway.contract import schema_errors

from ._doc import RANK, TERMINAL, TIMESTAMP, TIMESTAMP_EXAMPLE, TIMESTAMP_FIELDS, expect
from ._http import request
from .conftest import Lifecycle, Target

pytestmark = pytest.mark.billable


def _require_polls(lifecycle: Lifecycle) -> None:
    expect(
        lifecycle.request_id is not None,
        "the 202 answer carries the request_id to poll",
        lifecycle.accepted.describe(),
    )


def test_status_answers_200(lifecycle: Lifecycle) -> None:
    _require_polls(lifecycle)
    bad = [p.seen.describe() for p in lifecycle.polls if p.seen.status != 200]
    expect(not bad, "polling an existing request answers 200 with the status body", "; ".join(bad))


def test_status_bodies_match_the_doc(lifecycle: Lifecycle, target: Target) -> None:
    _require_polls(lifecycle)
    problems = []
    for n, body in enumerate(lifecycle.bodies, 1):
        found = schema_errors("status", body)
        missing = [key for key in TIMESTAMP_FIELDS if key not in body]
        if missing:
            found.append(f"missing {', '.join(missing)}")
        if body.get("request_id") != lifecycle.request_id:
            found.append(f"request_id {body.get('request_id')!r}, not {lifecycle.request_id!r}")
        if body.get("model_id") != target.model:
            found.append(f"model_id {body.get('model_id')!r}, not {target.model!r}")
        problems += [f"poll {n} ({body.get('status')}): {p}" for p in found]
    expect(
        not problems and bool(lifecycle.bodies),
        "every status body has request_id, status (QUEUED, PROCESSING, COMPLETED, FAILED or "
        "ERROR), model_id, error (a string only when FAILED/ERROR), output (an object only when "
        "COMPLETED), created_at, updated_at and completed_at (null until terminal)",
        "; ".join(problems) or "no JSON status body",
    )


def test_statuses_only_move_forward(lifecycle: Lifecycle) -> None:
    _require_polls(lifecycle)
    words = [b.get("status") for b in lifecycle.bodies]
    known = [w for w in words if w in RANK]
    backwards = [
        f"{a} -> {b}"
        for a, b in itertools.pairwise(known)
        if RANK[b] < RANK[a] or (a in TERMINAL and b != a)
    ]
    expect(
        not backwards,
        "statuses follow QUEUED -> PROCESSING -> COMPLETED | FAILED | ERROR and never go back",
        f"{' , '.join(backwards)} in {words}",
    )


def test_timestamps_in_the_doc_format(lifecycle: Lifecycle) -> None:
    _require_polls(lifecycle)
    sloppy = [
        f"{key}={body[key]!r}"
        for body in lifecycle.bodies
        for key in TIMESTAMP_FIELDS
        if (isinstance(body.get(key), str) and not TIMESTAMP.match(body[key]))
        or (key in body and body[key] is not None and not isinstance(body[key], str))
    ]
    expect(
        not sloppy,
        f"timestamps look like {TIMESTAMP_EXAMPLE} (UTC, milliseconds, Z)",
        ", ".join(sorted(set(sloppy))),
    )


def test_timestamps_in_order(lifecycle: Lifecycle) -> None:
    _require_polls(lifecycle)
    problems: list[str] = []

    def stamp(body: dict[str, object], key: str) -> str | None:
        value = body.get(key)
        return value if isinstance(value, str) and TIMESTAMP.match(value) else None

    bodies = lifecycle.bodies
    created = {stamp(b, "created_at") for b in bodies} - {None}
    if len(created) > 1:
        problems.append(f"created_at changed: {sorted(created)}")  # type: ignore[type-var]
    previous: str | None = None
    for body in bodies:
        c, u, done = (stamp(body, k) for k in TIMESTAMP_FIELDS)
        # The doc's format sorts as text, so comparing strings compares times.
        if c and u and u < c:
            problems.append(f"updated_at {u} before created_at {c}")
        if c and done and done < c:
            problems.append(f"completed_at {done} before created_at {c}")
        if u and previous and u < previous:
            problems.append(f"updated_at went back from {previous} to {u}")
        previous = u or previous
    expect(
        not problems,
        "created_at never changes, updated_at never goes back, and neither updated_at nor "
        "completed_at is before created_at",
        "; ".join(problems),
    )


def test_reaches_a_terminal_status(lifecycle: Lifecycle, target: Target) -> None:
    _require_polls(lifecycle)
    final = lifecycle.final or {}
    expect(
        final.get("status") in TERMINAL,
        f"the job ends COMPLETED, FAILED or ERROR (waited up to {target.timeout:g} s; raise "
        "--mockgateway-gateway-timeout for a slow gateway)",
        f"last status {final.get('status')!r} after {len(lifecycle.polls)} polls",
    )


def test_doc_example_completes_with_output(lifecycle: Lifecycle) -> None:
    _require_polls(lifecycle)
    final = lifecycle.final or {}
    output = final.get("output")
    urls = output.get("media_url") if isinstance(output, dict) else None
    expect(
        final.get("status") == "COMPLETED" and isinstance(urls, list) and len(urls) > 0,
        "the doc's example request completes and output.media_url lists the generated media",
        f"status {final.get('status')!r}, error {final.get('error')!r}, output {output!r}",
    )


def test_media_is_reachable(lifecycle: Lifecycle, target: Target) -> None:
    final = lifecycle.final or {}
    output = final.get("output")
    urls = output.get("media_url") if isinstance(output, dict) else None
    if final.get("status") != "COMPLETED" or not isinstance(urls, list) or not urls:
        pytest.skip("no COMPLETED job with media_url to download")
    failures = []
    for url in urls:
        if not isinstance(url, str):
            failures.append(f"media_url entry {url!r} is not a string")
            continue
        seen = request("GET", url, timeout=target.request_timeout)
        if seen.status != 200 or not seen.raw:
            failures.append(f"GET {url} -> {seen.status}, {len(seen.raw)} bytes")
    expect(
        not failures,
        "when status is COMPLETED, download from output.media_url",
        "; ".join(failures),
    )
