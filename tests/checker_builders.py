"""Synthetic journals for the checker's unit tests, shaped like the gateway's own entries."""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from typing import Any

from mockgateway._journal import KEY_HEADER, JournalEntry

# Installed, the plugin loads by its entry point; -p no:mockgateway keeps that from loading it
# twice, so the same pytester arguments work from a checkout and from an installed package.
PLUGIN = ("-p", "no:mockgateway", "-p", "mockgateway.pytest_plugin")

T0 = 1_800_000_000.0
BASE = "http://127.0.0.1:8080"
MODEL = "bytedance-omnihuman-v1-5-290"
GENERATE_PATH = f"/{MODEL}/v1/bytedance-omnihuman-v1-5-request"
GOOD_BODY: dict[str, Any] = {
    "image_url": "https://example.test/face.png",
    "audio_url": "https://example.test/voice.mp3",
    "resolution": "720p",
}
GOOD_HEADERS = {
    "Content-Type": "application/json",
    "Cache-Control": "no-cache",
    KEY_HEADER: "****0001",
}


def rid(n: int = 1) -> str:
    return f"{MODEL}_019d0000-0000-7000-8000-{n:012d}"


def status_body(request_id: str, status: str) -> dict[str, Any]:
    done = status in ("COMPLETED", "FAILED", "ERROR")
    return {
        "request_id": request_id,
        "status": status,
        "model_id": MODEL,
        "error": "boom" if status in ("FAILED", "ERROR") else None,
        "output": (
            {"media_url": [f"{BASE}/v1/{request_id}/output.mp4"], "media_type": "video/mp4"}
            if status == "COMPLETED"
            else None
        ),
        "created_at": "2027-01-15T08:00:00.000Z",
        "updated_at": "2027-01-15T08:00:00.000Z",
        "completed_at": "2027-01-15T08:00:00.000Z" if done else None,
    }


class JournalBuilder:
    """Appends entries at gateway times given as seconds after ``T0``."""

    def __init__(self) -> None:
        self.entries: list[JournalEntry] = []

    def add(self, t: float, took: float = 0.01, **fields: Any) -> JournalEntry:
        fields.setdefault("kind", "request")
        fields.setdefault("method", "GET")
        fields.setdefault("headers", {})
        path = fields.setdefault("path", "/")
        fields.setdefault("url", BASE + path)
        entry = JournalEntry(
            seq=len(self.entries) + 1, started_at=T0 + t, finished_at=T0 + t + took, **fields
        )
        self.entries.append(entry)
        return entry

    def generate(
        self,
        t: float,
        *,
        n: int = 1,
        key: str | None = "****0001",
        body: Any = None,
        headers: dict[str, str] | None = None,
        status: int = 202,
        response: Any = None,
        response_headers: dict[str, str] | None = None,
        error: str | None = None,
        path: str = GENERATE_PATH,
    ) -> JournalEntry:
        body = dict(GOOD_BODY) if body is None else body
        raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        hdrs = dict(GOOD_HEADERS) if headers is None else headers
        if key is not None and headers is None:
            hdrs[KEY_HEADER] = key
        if response is None and status == 202:
            response = {
                "request_id": rid(n),
                "status": "QUEUED",
                "polling_url": f"{BASE}/v2/requests/status/{rid(n)}",
            }
        return self.add(
            t,
            route="generate",
            method="POST",
            path=path,
            headers=hdrs,
            key=key,
            request_id=rid(n) if status == 202 else None,
            body=body,
            body_size=len(raw),
            body_sha256=hashlib.sha256(raw).hexdigest(),
            status=None if error else status,
            response_body=response,
            response_headers=response_headers or {},
            error=error,
        )

    def poll(
        self,
        t: float,
        job: str = "QUEUED",
        *,
        n: int = 1,
        key: str | None = "****0001",
        path: str | None = None,
        status: int = 200,
        response_headers: dict[str, str] | None = None,
        error: str | None = None,
        route: str = "status",
    ) -> JournalEntry:
        headers = {KEY_HEADER: key} if key is not None else {}
        response = status_body(rid(n), job) if status == 200 else {"error": "x", "message": "y"}
        return self.add(
            t,
            route=route,
            method="GET",
            path=path or f"/v2/requests/status/{rid(n)}",
            headers=headers,
            key=key,
            request_id=rid(n) if route == "status" else None,
            status=None if error else status,
            response_body=response,
            response_headers=response_headers or {},
            error=error,
        )

    def media(self, t: float, *, n: int = 1) -> JournalEntry:
        return self.add(t, route="media", method="GET", path=f"/v1/{rid(n)}/output.mp4", status=200)

    def webhook(
        self,
        t: float,
        *,
        n: int = 1,
        key: str | None = "****0001",
        job: str = "COMPLETED",
        status: int | None = 200,
        took: float = 0.01,
        error: str | None = None,
    ) -> JournalEntry:
        return self.add(
            t,
            took=took,
            kind="webhook",
            route="webhook",
            method="POST",
            path="/hook",
            url="http://127.0.0.1:9999/hook",
            key=key,
            request_id=rid(n),
            body=status_body(rid(n), job),
            status=status,
            error=error,
        )

    def admin(self, t: float, method: str = "PUT", path: str = "/_mock/wallets/k") -> JournalEntry:
        return self.add(t, route="admin", method=method, path=path, status=200)

    def careful_flow(
        self, t: float = 0.0, *, n: int = 1, key: str = "****0001", body: Any = None
    ) -> None:
        """Submit, poll every 5 s until COMPLETED, download: breaks no rule.

        Each job gets its own audio unless ``body`` is given, so flows are not duplicates.
        """
        if body is None:
            body = dict(GOOD_BODY, audio_url=f"https://example.test/voice{n}.mp3")
        self.generate(t, n=n, key=key, body=body)
        self.poll(t + 5, "QUEUED", n=n, key=key)
        self.poll(t + 10, "PROCESSING", n=n, key=key)
        self.poll(t + 15, "COMPLETED", n=n, key=key)
        self.media(t + 15.1, n=n)


# Element and attribute sets of junit-10.xsd, the schema the Jenkins xUnit plugin validates
# JUnit reports with (other viewers read a subset of it).
SUITES_ATTRS = {"name", "time", "tests", "failures", "errors"}
SUITE_REQUIRED = {"name", "tests", "failures", "errors"}
SUITE_ATTRS = SUITE_REQUIRED | {
    "group", "time", "skipped", "timestamp", "hostname", "id", "package", "file", "log", "url",
}  # fmt: skip
CASE_ATTRS = {"name", "time", "classname", "group"}
SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")
CASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}


def assert_junit_shape(text: str) -> ET.Element:
    """Structure every JUnit viewer relies on; fails naming the first thing out of shape."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(text)
    assert root.tag == "testsuites"
    assert set(root.attrib) <= SUITES_ATTRS
    assert SUREFIRE_TIME.fullmatch(root.attrib.get("time", ""))
    total = {"tests": 0, "failures": 0, "errors": 0}
    for suite in root:
        assert suite.tag == "testsuite"
        assert SUITE_REQUIRED <= set(suite.attrib) <= SUITE_ATTRS
        tags = [child.tag for child in suite]
        assert tags.count("properties") <= 1
        assert tags[0] == "properties" or not tags.count("properties")
        for prop in suite.iter("property"):
            assert set(prop.attrib) == {"name", "value"}
        cases = suite.findall("testcase")
        assert int(suite.attrib["tests"]) == len(cases)
        counted = {"failures": 0, "errors": 0, "skipped": 0}
        for case in cases:
            assert {"name", "classname"} <= set(case.attrib) <= CASE_ATTRS
            assert SUREFIRE_TIME.fullmatch(case.attrib["time"])
            kids = [c.tag for c in case]
            assert set(kids) <= CASE_CHILDREN
            outcome = [k for k in kids if k in ("skipped", "error", "failure")]
            assert len(outcome) <= 1, case.attrib["name"]
            for k in outcome:
                counted[{"skipped": "skipped", "error": "errors", "failure": "failures"}[k]] += 1
                assert "message" in case.find(k).attrib  # type: ignore[union-attr]
        for name, n in counted.items():
            assert int(suite.attrib.get(name, "0")) == n, name
        assert SUREFIRE_TIME.fullmatch(suite.attrib["time"])
        total["tests"] += len(cases)
        total["failures"] += counted["failures"]
        total["errors"] += counted["errors"]
    for name, n in total.items():
        assert int(root.attrib[name]) == n, name
    return root


def preload_gateway_modules() -> None:
    """Import every module of the package (and the media stack) in this process, once.

    In-process pytester runs drop the modules first imported inside them, and extension modules
    (numpy, av, yarl) cannot be loaded twice, nor should the process pool's multiprocessing state;
    loading everything up front keeps those runs sound.
    """
    import importlib
    import pkgutil

    import mockgateway

    for name in (
        "numpy", "av", "concurrent.futures.process", "multiprocessing.popen_spawn_posix",
        "multiprocessing.queues", "multiprocessing.resource_tracker", "multiprocessing.spawn",
        "multiprocessing.synchronize",
    ):  # fmt: skip
        importlib.import_module(name)
    for info in pkgutil.walk_packages(mockgateway.__path__, "mockgateway."):
        if info.name.split(".")[-1] not in ("__main__", "pytest_plugin", "strategies"):
            importlib.import_module(info.name)
