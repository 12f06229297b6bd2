"""Helpers every HTTP-level test uses: a served gateway on loopback and a client for it.

Every response a :class:`Client` receives passes through :data:`RESPONSE_CHECKS`, so checks that
hold for all responses (for example schema validation) are applied in one place.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from multidict import CIMultiDict

from mockgateway import (
    Gateway,
    GatewayConfig,
    ManualClock,
    RunningGateway,
    config_from_mapping,
    serve,
)
from mockgateway.contract import SchemaViolation, check_response
from mockgateway.store import MemoryStore

MODEL_ID = "bytedance-omnihuman-v1-5-290"
OPERATION = "bytedance-omnihuman-v1-5-request"
GENERATE_PATH = f"/{MODEL_ID}/v1/{OPERATION}"
KEY = "test-key-0001"
DOC_BODY = {
    "image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
    "audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
    "resolution": "1080p",
}
DOC_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-cache"}


@dataclass(frozen=True, slots=True)
class Answer:
    method: str
    path: str
    status: int
    headers: CIMultiDict[str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


ResponseCheck = Callable[[Answer], None]


# Statuses the gateway answers beyond the doc's per-operation tables, each a choice SPEC records:
# API management's 404 for an operation it does not know ([inferred]), 405 for a known path with
# another method ([mock]), and the 5xx answers failure simulation injects ([mock]).
BEYOND_THE_DOC = frozenset({404, 405, 500, 502, 503, 504})


def conforms_to_contract(answer: Answer) -> None:
    """The answer matches the OpenAPI document and JSON Schemas in schemas/.

    A status the document does not list for an operation passes only if it is one of
    :data:`BEYOND_THE_DOC` and its body is a gateway or API-management error.
    """
    problems = check_response(
        answer.method,
        urlsplit(answer.path).path,
        answer.status,
        answer.headers,
        answer.raw,
        undocumented_errors_ok=answer.status in BEYOND_THE_DOC,
    )
    if problems:
        raise SchemaViolation(f"{answer.method} {answer.path} -> {answer.status}", problems)


RESPONSE_CHECKS: list[ResponseCheck] = [conforms_to_contract]


@contextlib.contextmanager
def contract_checks_off() -> Iterator[None]:
    """Skip the contract check inside the block, for answers a test breaks on purpose."""
    RESPONSE_CHECKS.remove(conforms_to_contract)
    try:
        yield
    finally:
        RESPONSE_CHECKS.insert(0, conforms_to_contract)


class Client:
    """A thin aiohttp client bound to one gateway and one key."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, key: str | None = KEY
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.key = key

    def _headers(self, extra: dict[str, str] | None, key: str | None) -> dict[str, str]:
        headers = {} if key is None else {"Ocp-Apim-Subscription-Key": key}
        headers.update(extra or {})
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        key: str | type[Ellipsis] | None = ...,  # type: ignore[valid-type]
    ) -> Answer:
        use_key = self.key if key is ... else key
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        url = path if path.startswith("http") else self.base_url + path
        async with self.session.request(
            method,
            url,
            data=data,
            headers=self._headers(headers, use_key),  # type: ignore[arg-type]
            allow_redirects=False,  # an answer is judged as it came
        ) as response:
            answer = Answer(
                method, path, response.status, CIMultiDict(response.headers), await response.read()
            )
        for check in RESPONSE_CHECKS:
            check(answer)
        return answer

    async def generate(self, body: Any = None, **kwargs: Any) -> Answer:
        headers = {**DOC_HEADERS, **kwargs.pop("headers", {})}
        return await self.request(
            "POST",
            GENERATE_PATH,
            body=DOC_BODY if body is None else body,
            headers=headers,
            **kwargs,
        )

    async def status(self, request_id: str, **kwargs: Any) -> Answer:
        return await self.request("GET", f"/v2/requests/status/{request_id}", **kwargs)

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        answer = await self.request(method, f"/_mock/{path}", body=body, key=None)
        assert answer.status == 200, (answer.status, answer.raw)
        return answer.body


def manual_config(**sections: Any) -> GatewayConfig:
    return config_from_mapping({"clock": {"mode": "manual"}, **sections})


@contextlib.asynccontextmanager
async def served(
    config: GatewayConfig | None = None, **options: Any
) -> AsyncIterator[tuple[RunningGateway, Client]]:
    """A gateway on a free loopback port and a client for it (manual clock unless configured)."""
    if config is None:
        config = manual_config()
        options.setdefault("clock", ManualClock(1_774_951_200.0))  # 2026-03-31T10:00:00Z
    async with serve(config, **options) as running, aiohttp.ClientSession() as session:
        yield running, Client(session, running.url)


def narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """An 80-column terminal for pytester runs, whose short summary cuts its lines to it (pytest
    never cuts them on CI, so the CI variables are unset)."""
    monkeypatch.setenv("COLUMNS", "80")
    for ci in ("CI", "BUILD_NUMBER"):
        monkeypatch.delenv(ci, raising=False)


def memory_of(gateway: Gateway) -> MemoryStore:
    """The gateway's memory store, for tests that look inside it (the default backend)."""
    store = gateway.store
    assert isinstance(store, MemoryStore), f"expected the memory store, got {store.kind}"
    return store


def serve_config(path: Path) -> subprocess.CompletedProcess[str]:
    """``mockgateway serve --config PATH`` run to its end: for configurations it must refuse."""
    return subprocess.run(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parent.parent,
    )
