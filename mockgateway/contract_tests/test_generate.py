"""The 202 answer to the doc's own example request."""

from __future__ import annotations

import pytest

from mockgateway.contract import schema_errors

from ._doc import expect
from .conftest import Lifecycle, Target

pytestmark = pytest.mark.billable


def test_generate_answers_202(lifecycle: Lifecycle) -> None:
    seen = lifecycle.accepted
    expect(seen.status == 202, "the generate request answers 202 Accepted", seen.describe())


def test_accepted_body_shape(lifecycle: Lifecycle) -> None:
    seen = lifecycle.accepted
    problems = schema_errors("generate-accepted", seen.json())
    expect(
        not problems,
        'the 202 body is {"request_id": <string>, "status": "QUEUED", "polling_url": <URL>}',
        f"{seen.describe()}; {'; '.join(problems)}",
    )


def test_polling_url_is_the_status_endpoint(lifecycle: Lifecycle, target: Target) -> None:
    seen = lifecycle.accepted
    body = seen.json()
    polling_url = body.get("polling_url") if isinstance(body, dict) else None
    want = target.status_url(str(lifecycle.request_id))
    expect(
        polling_url == want,
        f"polling_url is the universal status endpoint for the request: {want}",
        f"polling_url {polling_url!r}",
    )
