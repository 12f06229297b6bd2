"""What the dashboard's browser tests share: the system browsers, a gateway on loopback with a
manual clock, and the two clients whose polling the page must tell apart.

Chromium is Debian's, driven by Playwright through ``executable_path`` (nothing is downloaded).
Playwright cannot drive Debian's Firefox ESR (its own Firefox build is patched, and its WebDriver
BiDi mode asks for commands ESR 140 lacks), so Firefox is driven over WebDriver BiDi directly
(:mod:`tests.firefox_bidi`). A browser that is missing skips its tests, except under CI, where
``scripts/test`` has installed both and a missing one is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

import mockgateway
from mockgateway import ThreadedGateway

from .support import DOC_HEADERS, GENERATE_PATH

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"  # git-ignored: screenshots of each view
TIMEOUT_MS = 10_000  # any wait for the page, at most
START = 1_774_951_200.0  # 2026-03-31T10:00:00Z on the manual clock
CAREFUL_KEY = "careful-client-0001"
CARELESS_KEY = "careless-client-0002"


def system_browser(*names: str) -> str | None:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def require(path: str | None, package: str) -> str:
    """The browser's path; without it, a skip (a failure under CI, which installs it)."""
    if path is None:
        message = (
            f"{package} is not installed (scripts/test installs it: apt-get install {package})"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def chromium_path() -> str:
    return require(system_browser("chromium", "chromium-browser"), "chromium")


def firefox_path() -> str:
    return require(system_browser("firefox-esr", "firefox"), "firefox-esr")


def screenshot_path(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


@dataclass
class Scene:
    """A gateway on loopback and plain HTTP calls to it, as a client and as the operator."""

    gw: ThreadedGateway
    http: requests.Session

    @property
    def url(self) -> str:
        return self.gw.url

    @property
    def page_url(self) -> str:
        return f"{self.gw.url}/_mock/ui/"

    def submit(self, key: str, **headers: str) -> str:
        body = {
            "image_url": f"{self.url}/_mock/samples/portrait.png",
            "audio_url": f"{self.url}/_mock/samples/speech.wav",
            "resolution": "480p",
        }
        answer = self.http.post(
            self.url + GENERATE_PATH,
            json=body,
            headers={**DOC_HEADERS, "Ocp-Apim-Subscription-Key": key, **headers},
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        request_id: str = answer.json()["request_id"]
        return request_id

    def poll(self, key: str, request_id: str) -> dict[str, Any]:
        answer = self.http.get(
            f"{self.url}/v2/requests/status/{request_id}",
            headers={"Ocp-Apim-Subscription-Key": key},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def advance(self, seconds: float) -> None:
        self.gw.advance(seconds)

    def admin(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        answer = self.http.request(
            method, f"{self.url}/_mock/{path}", json=body, headers=headers, timeout=30
        )
        assert answer.ok, (method, path, answer.status_code, answer.text)
        return answer.json()

    def careful_client(self, key: str = CAREFUL_KEY) -> str:
        """Submits, polls every 5 s of gateway time until the job ends, downloads the video."""
        request_id = self.submit(key)
        while (status := self.poll(key, request_id))["status"] not in ("COMPLETED", "FAILED"):
            self.advance(5)
        for url in status["output"]["media_url"]:
            assert self.http.get(url, timeout=60).status_code == 200
        return request_id

    def careless_client(self, key: str = CARELESS_KEY, polls: int = 5) -> str:
        """Submits and polls every second, past the job's end, and never downloads."""
        request_id = self.submit(key)
        for _ in range(polls):
            self.poll(key, request_id)
            self.advance(1)
        return request_id


@contextmanager
def scene(**config: Any) -> Iterator[Scene]:
    sections = {"clock": {"mode": "manual"}, **config}
    settings = mockgateway.config_from_mapping(sections)
    clock = mockgateway.ManualClock(START)
    with mockgateway.serve_in_thread(settings, clock=clock) as gw, requests.Session() as http:
        yield Scene(gw, http)
