"""Fixtures of the provider contract suite: the gateway under test and one observed job."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ._doc import TERMINAL
from ._http import Seen, request
from ._model import ModelCase, ModelNotDescribed, builtin_document, case_for, load_document
from .plugin import DOC_MODEL_ID


@dataclass(frozen=True, slots=True)
class Target:
    """The gateway under test, as the command line describes it."""

    url: str
    api_key: str | None
    case: ModelCase
    timeout: float
    poll_interval: float
    request_timeout: float

    @property
    def model(self) -> str:
        return self.case.model

    @property
    def operation(self) -> str:
        return self.case.operation

    @property
    def generate_url(self) -> str:
        return f"{self.url}/{self.model}/v1/{self.operation}"

    def status_url(self, request_id: str) -> str:
        return f"{self.url}/v2/requests/status/{request_id}"

    def doc_body(self) -> dict[str, Any]:
        """The model's example request (a fresh copy)."""
        return json.loads(json.dumps(self.case.body))  # type: ignore[no-any-return]

    def send(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        key: bool = True,
        headers: dict[str, str] | None = None,
    ) -> Seen:
        """One request with the doc's headers (the key unless ``key`` is False)."""
        sent = {"Cache-Control": "no-cache"}
        if body is not None:
            sent["Content-Type"] = "application/json"
        if key and self.api_key is not None:
            sent["Ocp-Apim-Subscription-Key"] = self.api_key
        sent.update(headers or {})
        return request(method, url, body=body, headers=sent, timeout=self.request_timeout)


@dataclass(slots=True)
class Poll:
    """One status answer and the local time it arrived."""

    at: float
    seen: Seen
    body: Any


@dataclass(slots=True)
class Lifecycle:
    """One job, submitted with the doc's example body and polled until terminal or timeout."""

    accepted: Seen
    request_id: str | None
    polls: list[Poll] = field(default_factory=list)
    timed_out: bool = False

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [p.body for p in self.polls if isinstance(p.body, dict)]

    @property
    def final(self) -> dict[str, Any] | None:
        bodies = self.bodies
        return bodies[-1] if bodies else None


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    option = request.config.getoption
    url = str(option("--mockgateway-gateway-url")).rstrip("/")
    model = option("--mockgateway-gateway-model")
    timeout = option("--mockgateway-gateway-request-timeout")
    where = option("--mockgateway-gateway-openapi")
    try:
        if where is None and model == DOC_MODEL_ID:
            document = builtin_document()
        else:
            document = load_document(
                where or f"{url}/_mock/openapi.json",
                timeout,
                option("--mockgateway-gateway-operator-token"),
            )
        case = case_for(
            document,
            model,
            operation=option("--mockgateway-gateway-operation"),
            urls={
                "image": option("--mockgateway-gateway-image-url"),
                "audio": option("--mockgateway-gateway-audio-url"),
            },
            resolution=option("--mockgateway-gateway-resolution"),
        )
    except ModelNotDescribed as exc:
        pytest.fail(f"{exc} (--mockgateway-gateway-openapi names the document)", pytrace=False)
    return Target(
        url=url,
        api_key=option("--mockgateway-gateway-api-key"),
        case=case,
        timeout=option("--mockgateway-gateway-timeout"),
        poll_interval=option("--mockgateway-gateway-poll-interval"),
        request_timeout=timeout,
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse to run without a gateway; skip billable checks unless the user opted in.

    The skip is a mark, not a fixture, so it takes effect before the session-scoped job fixture
    could submit anything.
    """
    here = Path(__file__).parent
    ours = [item for item in items if here in item.path.parents]
    if ours and not config.getoption("--mockgateway-gateway-url"):
        raise pytest.UsageError(
            "the contract suite needs --mockgateway-gateway-url URL "
            "(and usually --mockgateway-gateway-api-key KEY)"
        )
    if config.getoption("--mockgateway-gateway-allow-billable"):
        return
    skip = pytest.mark.skip(
        reason="submits a job, which costs money on a real gateway; "
        "pass --mockgateway-gateway-allow-billable"
    )
    for item in ours:
        if item.get_closest_marker("billable"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lifecycle(target: Target) -> Iterator[Lifecycle]:
    """Submit the doc's example request once and record every status answer until it ends."""
    accepted = target.send("POST", target.generate_url, body=json.dumps(target.doc_body()).encode())
    body = accepted.json()
    request_id = body.get("request_id") if isinstance(body, dict) else None
    job = Lifecycle(accepted, request_id if isinstance(request_id, str) else None)
    if job.request_id is None:
        yield job
        return
    # The doc: poll the universal status endpoint (GET /v2/requests/status/{request_id}).
    deadline = time.monotonic() + target.timeout
    while True:
        seen = target.send("GET", target.status_url(job.request_id))
        job.polls.append(Poll(time.monotonic(), seen, seen.json()))
        polled = job.polls[-1].body
        if isinstance(polled, dict) and polled.get("status") in TERMINAL:
            break
        if time.monotonic() >= deadline:
            job.timed_out = True
            break
        time.sleep(target.poll_interval)
    yield job
