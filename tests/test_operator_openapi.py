"""schemas/operator.openapi.json: valid OpenAPI 3.1, the same /_mock/ routes as the app, and every
answer of a live gateway matching the schema the document gives for its status."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import tomllib
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from multidict import CIMultiDict
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.readers import read_from_filename
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from mockgateway import ConfigError, GatewayConfig, RunningGateway, config_from_mapping, contract
from mockgateway._gateway import Gateway
from mockgateway._journal import KEY_HEADER
from mockgateway.contract import _schemas
from mockgateway.faults import HEADER, KEY_PREFIX, builtin_scenarios, faults_from_mapping
from mockgateway.media import SAMPLES
from mockgateway.web import make_app

from .store_support import sqlite_writable
from .support import KEY, Answer, Client, manual_config, served

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
DOCUMENT = contract.load_operator_openapi()
# The document's URI sits beside the schemas' $ids, so its relative file references resolve to them.
BASE_URI = (
    contract.load_schema("status")["$id"].rsplit("/", 1)[0] + "/" + contract.OPERATOR_OPENAPI_FILE
)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
JSON = "application/json"
START = 1_774_951_200.0  # the manual clock of served()


# the document as a validator ---------------------------------------------------------------------


def pointer(*segments: str) -> str:
    return "".join("/" + s.replace("~", "~0").replace("/", "~1") for s in segments)


@cache
def _registry() -> Registry[Any]:
    document = DRAFT202012.create_resource(DOCUMENT)
    registry: Registry[Any] = contract.registry().with_resource(BASE_URI, document)
    return registry


@cache
def _validator(at: str) -> Any:
    return Draft202012Validator({"$ref": f"{BASE_URI}#{at}"}, registry=_registry())


def errors(at: str, instance: Any) -> list[str]:
    """Each way ``instance`` breaks the schema at JSON pointer ``at`` in the document."""
    found = sorted(_validator(at).iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [f"at {e.json_path}: {e.message}" for e in found]


def component(name: str) -> str:
    return pointer("components", "schemas", name)


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]

    @property
    def id(self) -> str:
        operation_id: str = self.spec["operationId"]
        return operation_id

    @property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.template)))

    def at(self, *segments: str) -> str:
        return pointer("paths", self.template, self.method.lower(), *segments)


OPERATIONS = [
    Operation(method.upper(), template, spec)
    for template, item in DOCUMENT["paths"].items()
    for method, spec in item.items()
    if method in METHODS
]


def find_operation(method: str, path: str) -> Operation | None:
    """The documented operation a request reaches (HEAD answers as GET does)."""
    method = "GET" if method == "HEAD" else method
    found = [op for op in OPERATIONS if op.method == method and op.pattern.fullmatch(path)]
    return min(found, key=lambda op: op.template.count("{"), default=None)


def documented_statuses(operation_id: str) -> set[str]:
    return next(set(op.spec["responses"]) for op in OPERATIONS if op.id == operation_id)


def problems_of(answer: Answer) -> tuple[str, list[str]]:
    """The operation an answer belongs to and every way it departs from the document."""
    path = urlsplit(answer.path).path
    op = find_operation(answer.method, path)
    if op is None:
        return "", [f"{answer.method} {path} is not documented"]
    status = str(answer.status)
    spec = op.spec["responses"].get(status)
    if spec is None:
        return op.id, [f"{op.id}: {status} is not documented ({sorted(op.spec['responses'])})"]
    problems = []
    for name, header in spec.get("headers", {}).items():
        value = answer.headers.get(name)
        if value is None:
            if header.get("required"):
                problems.append(f"{op.id} {status}: header {name} is missing")
            continue
        at = op.at("responses", status, "headers", name, "schema")
        problems += [f"{op.id} {status} header {name} {p}" for p in errors(at, value)]
    content = spec.get("content")
    if answer.method == "HEAD" or not content:
        if answer.raw:
            problems.append(f"{op.id} {status}: a body where none is documented")
        return op.id, problems
    media = answer.headers.get("Content-Type", "").split(";")[0].strip()
    if media not in content:
        return op.id, [*problems, f"{op.id} {status}: Content-Type {media!r}, not {list(content)}"]
    if media != JSON:
        if not answer.raw:
            problems.append(f"{op.id} {status}: empty {media} body")
        return op.id, problems
    try:
        body = json.loads(answer.raw)
    except ValueError:
        return op.id, [*problems, f"{op.id} {status}: body is not JSON: {answer.raw[:120]!r}"]
    at = op.at("responses", status, "content", JSON, "schema")
    return op.id, problems + [f"{op.id} {status} {p}" for p in errors(at, body)]


# the document itself -------------------------------------------------------------------------


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def test_the_document_is_valid_openapi_3_1() -> None:
    document, base_uri = read_from_filename(str(contract.operator_openapi_path()))
    assert document["openapi"].startswith("3.1")
    validate_openapi(document, base_uri=base_uri)


def test_every_reference_resolves_and_every_file_reference_names_a_schema_file() -> None:
    refs = [value for key, value in _walk(DOCUMENT) if key == "$ref"]
    files = {ref.split("#")[0] for ref in refs if not ref.startswith("#")}
    assert files == {"gateway-error.schema.json", "status.schema.json"}
    for ref in refs:
        assert ref.startswith("#") or (SCHEMAS / ref.split("#")[0]).is_file(), ref
        resolved = _registry().resolver(base_uri=BASE_URI).lookup(ref)
        assert isinstance(resolved.contents, dict), ref


def test_the_vendor_document_stays_free_of_operator_routes() -> None:
    assert all(path.startswith("/_mock/") for path in DOCUMENT["paths"])
    assert not [path for path in contract.load_openapi()["paths"] if path.startswith("/_mock/")]
    assert DOCUMENT["security"] == []


def test_everything_operator_side_is_tagged_mock() -> None:
    for part in ("paths", "components"):
        for key, value in _walk(DOCUMENT[part]):
            if key == "description" and isinstance(value, str):
                assert set(re.findall(r"\[([a-z]+)\]", value)) <= {"mock"}, value
    for op in OPERATIONS:
        for status, spec in op.spec["responses"].items():
            assert spec["description"].startswith("[mock] "), (op.id, status)
    for kind in ("schemas", "parameters"):
        for name, spec in DOCUMENT["components"][kind].items():
            assert spec["description"].startswith("[mock] "), name
    assert "[mock]" in DOCUMENT["info"]["description"]


def test_the_documents_own_examples_match_their_schemas() -> None:
    for name, schema in DOCUMENT["components"]["schemas"].items():
        for example in schema.get("examples", []):
            assert errors(component(name), example) == [], (name, example)
    for op in OPERATIONS:
        body = op.spec.get("requestBody", {}).get("content", {}).get(JSON)
        if body is not None and "example" in body:
            assert errors(op.at("requestBody", "content", JSON, "schema"), body["example"]) == []
        for status, spec in op.spec["responses"].items():
            media = spec.get("content", {}).get(JSON, {})
            if "example" in media:
                at = op.at("responses", status, "content", JSON, "schema")
                assert errors(at, media["example"]) == [], (op.id, status)


def test_scenario_selection_is_documented_as_reusable_parameters() -> None:
    names = set(builtin_scenarios(2))
    parameters = DOCUMENT["components"]["parameters"]
    header = parameters["XMockScenario"]
    assert (header["in"], header["name"], header["required"]) == ("header", HEADER, False)
    assert set(header["examples"]) == names
    key = parameters["ScenarioKey"]
    assert (key["in"], key["name"]) == ("header", KEY_HEADER)
    assert set(key["examples"]) == {KEY_PREFIX + name for name in names}
    for example in key["examples"].values():
        assert re.fullmatch(key["schema"]["pattern"], example["value"])
    assert (
        set(
            DOCUMENT["components"]["schemas"]["ScenarioView"]["properties"]["scenarios"]["required"]
        )
        == names
    )
    info = DOCUMENT["info"]["description"]
    assert "X-Mock-Scenario" in info
    assert "mock-<name>" in info


def test_sample_names_are_the_bundled_ones() -> None:
    listed = DOCUMENT["components"]["schemas"]["Sample"]["properties"]
    assert listed["name"]["enum"] == list(SAMPLES)
    assert set(listed["content_type"]["enum"]) == set(SAMPLES.values())
    served_as = DOCUMENT["paths"]["/_mock/samples/{name}"]["get"]["responses"]["200"]["content"]
    assert set(served_as) == set(SAMPLES.values())


def test_the_loader_finds_the_operator_document_beside_the_others(tmp_path: Path) -> None:
    assert contract.OPERATOR_OPENAPI_FILE == "operator.openapi.json"
    assert contract.operator_openapi_path() == SCHEMAS / "operator.openapi.json"
    path = contract.operator_openapi_path()
    assert contract.load_operator_openapi() == json.loads(path.read_text())
    package = tmp_path / "site" / "mockgateway"
    shutil.copytree(SCHEMAS, package / "_schemas")
    found = _schemas.find_schema_dir(_schemas.candidate_dirs(package))
    assert contract.operator_openapi_path(found) == package / "_schemas" / "operator.openapi.json"
    assert contract.load_operator_openapi(found) == DOCUMENT


# the document and the app ----------------------------------------------------------------------


def _documented_routes() -> dict[str, set[str]]:
    return {
        path: {method.upper() for method in item if method in METHODS}
        for path, item in DOCUMENT["paths"].items()
    }


async def test_the_document_has_exactly_the_routes_the_app_registers() -> None:
    gateway = Gateway(manual_config())
    try:
        app = make_app(gateway)
    finally:
        await gateway.close()
    registered: dict[str, set[str]] = defaultdict(set)
    for route in app.router.routes():
        assert route.resource is not None
        info = route.resource.get_info()
        path = info.get("path") or info.get("formatter") or ""
        if path.startswith("/_mock"):
            registered[path].add(route.method)
    assert registered  # the walk found the operator routes
    for methods in registered.values():
        if "GET" in methods:  # add_get registers HEAD with it; the document counts it as GET's
            methods.remove("HEAD")
    assert dict(registered) == _documented_routes()


def _concrete(template: str) -> str:
    values = {
        "request_id": "some-id",
        "command": "advance",
        "key": KEY,
        "name": "portrait.png",
        "file": "app.js",
    }
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], template)


async def test_other_methods_answer_405_naming_the_documented_ones() -> None:
    async with served() as (_gw, client):
        for template, documented in _documented_routes().items():
            allowed = documented | ({"HEAD"} if "GET" in documented else set())
            path = _concrete(template)
            for method in sorted({"GET", "PUT", "POST", "DELETE", "PATCH"} - allowed):
                answer = await client.request(method, path, key=None)
                assert answer.status == 405, (method, path)
                assert set(answer.headers["Allow"].split(", ")) == allowed
                assert contract.schema_errors("gateway-error", answer.body) == []
        unknown = await client.request("GET", "/_mock/nothing-here", key=None)
        assert unknown.status == 404
        assert unknown.body == {
            "error": "Not Found",
            "message": "No operator route at /_mock/nothing-here",
        }


# every documented answer, from a live gateway ------------------------------------------------


@dataclass
class Tour:
    """Calls a gateway's operator API, checks every answer against the document, and notes which
    documented answers were seen; each GET is repeated as HEAD."""

    gw: RunningGateway
    client: Client
    seen: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))

    async def call(
        self,
        method: str,
        path: str,
        status: int,
        *,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        answer = await self.client.request(
            method, path, body=body, raw=raw, headers=headers, key=None
        )
        assert answer.status == status, (method, path, answer.status, answer.raw[:300])
        operation_id, problems = problems_of(answer)
        assert problems == [], problems
        self.seen[operation_id].add(str(status))
        if method == "GET":
            head = await self.client.request("HEAD", path, headers=headers, key=None)
            assert (head.status, head.raw) == (status, b"")
            assert problems_of(head)[1] == []
        return answer

    async def submit(self, **headers: str) -> str:
        answer = await self.client.generate(headers=headers)
        assert answer.status == 202, answer.raw
        request_id: str = answer.body["request_id"]
        return request_id


@contextlib.asynccontextmanager
async def touring(config: GatewayConfig | None = None) -> AsyncIterator[Tour]:
    async with served(config) as (gw, client):
        yield Tour(gw, client)


Seen = dict[str, set[str]]
EXERCISES: dict[str, Callable[[], Awaitable[Seen]]] = {}


def exercises(operation_id: str) -> Callable[[Callable[[], Awaitable[Seen]]], Any]:
    def register(run: Callable[[], Awaitable[Seen]]) -> Callable[[], Awaitable[Seen]]:
        EXERCISES[operation_id] = run
        return run

    return register


def strict_config() -> GatewayConfig:
    return config_from_mapping(
        {"clock": {"mode": "manual"}, "keys": {"mode": "strict", "accounts": [{"key": KEY}]}}
    )


@exercises("getHealth")
async def _health() -> Seen:
    async with touring() as t:
        await t.submit()
        health = (await t.call("GET", "/_mock/health", 200)).body
        assert (health["jobs"], health["clock"]) == (1, {"mode": "manual", "now": START})
        seen = t.seen
    with tempfile.TemporaryDirectory() as tmp:  # a state file that cannot be written: a 503
        state = {"backend": "sqlite", "path": str(Path(tmp) / "state.db")}
        async with touring(manual_config(state=state)) as t:
            t.seen = seen
            sqlite_writable(t.gw.gateway.store, False)
            assert (await t.client.generate()).status == 503
            refused = (await t.call("GET", "/_mock/health", 503)).body
            assert "readonly database" in refused["message"]
    return seen


@exercises("getMetrics")
async def _metrics() -> Seen:
    async with touring() as t:
        await t.submit()
        text = (await t.call("GET", "/_mock/metrics", 200)).raw.decode()
        assert 'mockgateway_requests_total{route="generate",status="202"} 1' in text
        assert 'mockgateway_jobs{status="QUEUED"} 1' in text
        return t.seen


@exercises("reset")
async def _reset() -> Seen:
    async with touring() as t:
        await t.submit()
        assert (await t.call("POST", "/_mock/reset", 200)).body == {"reset": True}
        empty = {"jobs": [], "total": 0, "next_cursor": None}
        assert (await t.call("GET", "/_mock/jobs", 200)).body == empty
        return t.seen


@exercises("listWallets")
async def _list_wallets() -> Seen:
    async with touring() as t:
        request_id = await t.submit()
        await t.call("POST", f"/_mock/jobs/{request_id}/advance", 200)  # probed: its cost is held
        listed = (await t.call("GET", "/_mock/wallets", 200)).body
        assert [w["key"] for w in listed["wallets"]] == [KEY]
        assert (listed["total"], listed["next_cursor"]) == (1, None)
        assert listed["wallets"][0]["held"] != "0.00"  # its hold, without the ledger
        await t.call("POST", f"/_mock/jobs/{request_id}/error", 200)
        ledger = (await t.call("GET", f"/_mock/wallets/{KEY}", 200)).body["ledger"]
        assert [e["movement"] for e in ledger] == ["set", "hold", "release"]
        bad = await t.call("GET", "/_mock/wallets?cursor=x", 400)
        assert "cursor" in bad.body["message"]
        return t.seen


@exercises("getWallet")
async def _get_wallet() -> Seen:
    async with touring() as t:
        assert (await t.call("GET", f"/_mock/wallets/{KEY}", 200)).body["balance"] == "10.00"
        # in the open key mode a read opens the wallet of a key never seen
        assert (await t.call("GET", "/_mock/wallets/newcomer", 200)).body["key"] == "newcomer"
        seen = t.seen
    async with touring(strict_config()) as t:
        await t.call("GET", f"/_mock/wallets/{KEY}", 200)
        await t.call("GET", f"/_mock/wallets/{KEY_PREFIX}402", 200)  # scenario keys are valid
        missing = await t.call("GET", "/_mock/wallets/stranger", 404)
        assert missing.body["error"] == "Wallet not found"
        bad = await t.call("GET", f"/_mock/wallets/{KEY}?limit=0", 400)
        assert "limit" in bad.body["message"]
        page = (await t.call("GET", f"/_mock/wallets/{KEY}?limit=1", 200)).body
        assert (len(page["ledger"]), page["ledger_total"]) == (1, 1)
        for operation_id, statuses in t.seen.items():
            seen[operation_id] |= statuses
    return seen


@exercises("putWallet")
async def _put_wallet() -> Seen:
    async with touring() as t:
        path = f"/_mock/wallets/{KEY}"
        wallet = (await t.call("PUT", path, 200, body={"balance": "25.00"})).body
        assert (wallet["balance"], wallet["available"]) == ("25.00", "25.00")
        assert (await t.call("PUT", path, 200, body={"balance": 5})).body["balance"] == "5.00"
        for body in ({}, {"balance": "-1"}, {"balance": "lots"}, {"balance": True}):
            await t.call("PUT", path, 400, body=body)
        for raw in (b"{", b"[1]"):
            await t.call("PUT", path, 400, raw=raw)
        return t.seen


@exercises("listJobs")
async def _list_jobs() -> Seen:
    async with touring() as t:
        first = await t.submit()
        await t.gw.advance(1)
        second = await t.submit()
        listed = (await t.call("GET", "/_mock/jobs", 200)).body
        assert [j["request_id"] for j in listed["jobs"]] == [second, first]  # newest first
        assert (listed["total"], listed["next_cursor"]) == (2, None)
        for status, expected in (("queued", [second]), ("PROCESSING", [first])):
            jobs = (await t.call("GET", f"/_mock/jobs?status={status}", 200)).body["jobs"]
            assert [j["request_id"] for j in jobs] == expected
        page = (await t.call("GET", "/_mock/jobs?limit=1", 200)).body
        assert ([j["request_id"] for j in page["jobs"]], page["total"]) == ([second], 2)
        rest = await t.call("GET", f"/_mock/jobs?limit=1&cursor={page['next_cursor']}", 200)
        assert ([j["request_id"] for j in rest.body["jobs"]], rest.body["next_cursor"]) == (
            [first],
            None,
        )
        mine = (await t.call("GET", f"/_mock/jobs?key={KEY[-4:]}", 200)).body
        assert mine["total"] == 2
        assert (await t.call("GET", "/_mock/jobs?key=nobody", 200)).body["total"] == 0
        bogus = await t.call("GET", "/_mock/jobs?status=bogus", 400)
        assert "bogus" in bogus.body["message"]
        for query in ("limit=0", "limit=1001", "limit=x", "cursor=abc", "key="):
            refused = await t.call("GET", f"/_mock/jobs?{query}", 400)
            assert query.split("=")[0] in refused.body["message"]
        return t.seen


@exercises("getJob")
async def _get_job() -> Seen:
    async with touring() as t:
        # The webhook goes to this very gateway, whose health route answers a POST with 405.
        receiver = f"{t.gw.url}/_mock/health"
        request_id = await t.submit(**{"X-Webhook-URL": receiver})
        await t.call("POST", f"/_mock/jobs/{request_id}/complete", 200)
        job = (await t.call("GET", f"/_mock/jobs/{request_id}", 200)).body
        assert job["status"] == "COMPLETED"
        assert job["cost"] is not None
        assert job["output"]["media_url"]
        [delivery] = job["webhooks"]
        assert (delivery["url"], delivery["delivered"]) == (receiver, False)
        assert [o["status"] for o in delivery["outcomes"]] == [405]
        await t.call("GET", "/_mock/jobs/nope", 404)
        return t.seen


@exercises("jobCommand")
async def _job_command() -> Seen:
    async with touring() as t:
        first, second, third = [await t.submit() for _ in range(3)]
        base = "/_mock/jobs"
        job = (await t.call("POST", f"{base}/{first}/advance", 200)).body
        assert job["status"] == "PROCESSING"
        assert job["webhooks"] == []
        assert (await t.call("POST", f"{base}/{first}/complete", 200)).body["status"] == "COMPLETED"
        failed = await t.call("POST", f"{base}/{second}/fail", 200, body={"message": "Bad image."})
        assert (failed.body["status"], failed.body["error"]) == ("FAILED", "Bad image.")
        errored = (await t.call("POST", f"{base}/{third}/error", 200)).body
        assert (errored["status"], errored["error"]) == ("ERROR", "Error by operator command.")
        await t.call("POST", f"{base}/{second}/fail", 409)
        await t.call("POST", f"{base}/{first}/explode", 404)
        await t.call("POST", f"{base}/nope/advance", 404)
        await t.call("POST", f"{base}/{first}/fail", 400, raw=b"{")
        await t.call("POST", f"{base}/{first}/fail", 400, body={"message": 5})
        await t.call("POST", f"{base}/{first}/fail", 400, raw=b"[1]")
        return t.seen


@exercises("getJournal")
async def _get_journal() -> Seen:
    async with touring() as t:
        request_id = await t.submit(**{"X-Webhook-URL": f"{t.gw.url}/_mock/health"})
        await t.call("POST", f"/_mock/jobs/{request_id}/fail", 200)
        entries = (await t.call("GET", "/_mock/journal", 200)).body["entries"]
        assert {e["kind"] for e in entries} == {"request", "webhook"}
        generate = entries[0]
        assert (generate["route"], generate["key"]) == ("generate", "****" + KEY[-4:])
        since = entries[-1]["seq"]
        later = (await t.call("GET", f"/_mock/journal?since={since}", 200)).body["entries"]
        assert later
        assert all(e["seq"] > since for e in later)
        await t.call("GET", "/_mock/journal?since=x", 400)
        first_two = (await t.call("GET", "/_mock/journal?limit=2", 200)).body
        assert [e["seq"] for e in first_two["entries"]] == [e["seq"] for e in entries[:2]]
        assert first_two["next_since"] == entries[1]["seq"]
        after = await t.call("GET", f"/_mock/journal?since={first_two['next_since']}", 200)
        assert after.body["entries"][0]["seq"] == entries[2]["seq"]
        await t.call("GET", "/_mock/journal?limit=0", 400)
        polled = await t.call("GET", f"/_mock/journal?route=webhook&request_id={request_id}", 200)
        assert {e["route"] for e in polled.body["entries"]} == {"webhook"}
        await t.call("GET", "/_mock/journal?route=nowhere", 400)
        return t.seen


@exercises("getJournalHar")
async def _get_journal_har() -> Seen:
    async with touring() as t:
        request_id = await t.submit(**{"X-Webhook-URL": f"{t.gw.url}/_mock/health"})
        await t.call("POST", f"/_mock/jobs/{request_id}/complete", 200)
        har = (await t.call("GET", "/_mock/journal.har", 200)).body
        assert {e["_kind"] for e in har["log"]["entries"]} == {"request", "webhook"}
        only = (await t.call("GET", "/_mock/journal.har?route=generate", 200)).body
        assert [e["_route"] for e in only["log"]["entries"]] == ["generate"]
        await t.call("GET", "/_mock/journal.har?status=abc", 400)
        return t.seen


@exercises("clearJournal")
async def _clear_journal() -> Seen:
    async with touring() as t:
        await t.submit()
        last = (await t.call("GET", "/_mock/journal", 200)).body["entries"][-1]["seq"]
        assert (await t.call("DELETE", "/_mock/journal", 200)).body == {"cleared": True}
        journal = (await t.call("GET", "/_mock/journal", 200)).body
        assert [e["method"] for e in journal["entries"]][:1] == ["DELETE"]
        assert all(e["seq"] > last for e in journal["entries"])
        return t.seen


@exercises("getClock")
async def _get_clock() -> Seen:
    async with touring() as t:
        assert (await t.call("GET", "/_mock/clock", 200)).body == {"mode": "manual", "now": START}
        return t.seen


@exercises("advanceClock")
async def _advance_clock() -> Seen:
    async with touring() as t:
        moved = (await t.call("POST", "/_mock/clock/advance", 200, body={"seconds": 2.5})).body
        assert moved == {"mode": "manual", "now": START + 2.5}
        await t.call("POST", "/_mock/clock/advance", 200, body={"seconds": 0})
        for body in ({"seconds": "x"}, {"seconds": -1}, {}, {"seconds": True}):
            await t.call("POST", "/_mock/clock/advance", 400, body=body)
        await t.call("POST", "/_mock/clock/advance", 400, raw=b"soon")
        seen = t.seen
    async with touring(config_from_mapping({})) as t:  # a real clock cannot be moved
        await t.call("POST", "/_mock/clock/advance", 409, body={"seconds": 1})
        for operation_id, statuses in t.seen.items():
            seen[operation_id] |= statuses
    return seen


FILE_RULE = {"name": "flaky generate", "scenario": "flaky", "route": "generate", "action": "reset"}


@exercises("getScenario")
async def _get_scenario() -> Seen:
    async with touring(manual_config(faults=[FILE_RULE])) as t:
        view = (await t.call("GET", "/_mock/scenario", 200)).body
        assert view["rules"] == [{"name": "flaky generate", "action": "reset", "scenario": "flaky"}]
        assert view["scenarios"]["flaky"] == "from the file"
        return t.seen


def _request_example(media: str) -> Any:
    put = DOCUMENT["paths"]["/_mock/scenario"]["put"]
    return put["requestBody"]["content"][media]["example"]


@exercises("putScenario")
async def _put_scenario() -> Seen:
    async with touring() as t:
        view = (await t.call("PUT", "/_mock/scenario", 200, body=_request_example(JSON))).body
        assert (view["source"], view["seed"]) == ("PUT /_mock/scenario", 7)
        toml = _request_example("application/toml").encode()
        for media in ("application/toml", "text/plain"):
            headers = {"Content-Type": media}
            view = (await t.call("PUT", "/_mock/scenario", 200, raw=toml, headers=headers)).body
            assert [r["action"] for r in view["rules"]] == ["http_error"]
        assert (await t.call("PUT", "/_mock/scenario", 200, raw=b"")).body["seed"] == 0
        bad_toml = {"Content-Type": "application/toml"}
        await t.call("PUT", "/_mock/scenario", 400, raw=b"[scenario\n", headers=bad_toml)
        await t.call("PUT", "/_mock/scenario", 400, raw=b"{")
        await t.call("PUT", "/_mock/scenario", 400, raw=b"[1]")
        refused = await t.call("PUT", "/_mock/scenario", 400, body={"faults": [{"action": "boom"}]})
        assert "faults[0].action" in refused.body["message"]
        return t.seen


@exercises("deleteScenario")
async def _delete_scenario() -> Seen:
    async with touring() as t:
        await t.call("PUT", "/_mock/scenario", 200, body={"scenario": {"seed": 9}})
        view = (await t.call("DELETE", "/_mock/scenario", 200)).body
        assert (view["source"], view["seed"]) == ("<mapping>", 0)
        return t.seen


@exercises("listSamples")
async def _list_samples() -> Seen:
    async with touring() as t:
        samples = (await t.call("GET", "/_mock/samples", 200)).body["samples"]
        assert [s["name"] for s in samples] == list(SAMPLES)
        assert all(s["url"] == f"{t.gw.url}/_mock/samples/{s['name']}" for s in samples)
        return t.seen


@exercises("getSample")
async def _get_sample() -> Seen:
    async with touring() as t:
        etags = {}
        for name, media in SAMPLES.items():
            whole = await t.call("GET", f"/_mock/samples/{name}", 200)
            assert whole.headers["Content-Type"] == media
            etags[name] = whole.headers["ETag"]
        path = "/_mock/samples/portrait.png"
        etag = etags["portrait.png"]
        part = await t.call("GET", path, 206, headers={"Range": "bytes=0-9"})
        assert len(part.raw) == 10
        await t.call("GET", path, 304, headers={"If-None-Match": etag})
        await t.call("GET", path, 416, headers={"Range": "bytes=999999999-"})
        await t.call("GET", "/_mock/samples/nope.png", 404)
        return t.seen


@exercises("getOpenapi")
async def _get_openapi() -> Seen:
    async with touring() as t:
        served = (await t.call("GET", "/_mock/openapi.json", 200)).body
        assert served == contract.load_openapi()
        return t.seen


@exercises("getVerdict")
async def _get_verdict() -> Seen:
    async with touring() as t:
        request_id = await t.submit()
        for _ in range(2):  # a second poll at once: closer than the documented 5 s
            await t.client.status(request_id)
        verdict = (await t.call("GET", "/_mock/verdict", 200)).body
        assert "poll-interval" in verdict["summary"]["broken_rules"]
        [rule] = [r for r in verdict["rules"] if r["id"] == "poll-interval"]
        statuses = [e["route"] for e in rule["violations"][0]["evidence"]]
        assert statuses == ["status", "status"]
        assert rule["how_to_fix"].startswith("Sleep at least 5 s")
        assert rule["violations_total"] == len(rule["violations"]) == 1
        read = await t.call("GET", "/_mock/verdict", 200, headers={"X-Mock-Dashboard": "1"})
        etag = read.headers["ETag"]
        unchanged = {"X-Mock-Dashboard": "1", "If-None-Match": etag}  # a read the journal skips
        await t.call("GET", "/_mock/verdict", 304, headers=unchanged)
        return t.seen


@exercises("dashboardRedirect")
async def _dashboard_redirect() -> Seen:
    async with touring() as t:
        moved = await t.call("GET", "/_mock/ui", 301)
        assert moved.headers["Location"] == "/_mock/ui/"
        return t.seen


@exercises("dashboard")
async def _dashboard() -> Seen:
    async with touring() as t:
        page = await t.call("GET", "/_mock/ui/", 200)
        assert b'<script type="module" src="app.js">' in page.raw
        return t.seen


@exercises("dashboardFile")
async def _dashboard_file() -> Seen:
    async with touring() as t:
        script = await t.call("GET", "/_mock/ui/app.js", 200)
        assert script.headers["Content-Type"].startswith("text/javascript")
        await t.call("GET", "/_mock/ui/app.css", 200)
        await t.call("GET", "/_mock/ui/nope.js", 404)
        await t.call("GET", "/_mock/ui/..%2f__init__.py", 404)
        return t.seen


def test_every_documented_operation_has_an_exercise() -> None:
    assert set(EXERCISES) == {op.id for op in OPERATIONS}
    assert len(OPERATIONS) == len({op.id for op in OPERATIONS})


@pytest.mark.parametrize("operation_id", sorted(EXERCISES))
async def test_every_documented_answer_is_seen_and_matches_its_schema(operation_id: str) -> None:
    seen = await EXERCISES[operation_id]()
    assert seen[operation_id] == documented_statuses(operation_id)


# the schemas catch mistakes --------------------------------------------------------------------


async def _real_bodies() -> dict[str, Any]:
    async with touring() as t:
        request_id = await t.submit(**{"X-Webhook-URL": f"{t.gw.url}/_mock/health"})
        await t.call("POST", f"/_mock/jobs/{request_id}/complete", 200)
        return {
            "Health": (await t.call("GET", "/_mock/health", 200)).body,
            "Wallet": (await t.call("GET", f"/_mock/wallets/{KEY}", 200)).body,
            "JobDetail": (await t.call("GET", f"/_mock/jobs/{request_id}", 200)).body,
            "Journal": (await t.call("GET", "/_mock/journal", 200)).body,
            "ScenarioView": (await t.call("GET", "/_mock/scenario", 200)).body,
            "SampleIndex": (await t.call("GET", "/_mock/samples", 200)).body,
        }


def _broken(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the key at ``path`` set to ``value`` (``...``: removed)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node: Any = copy
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return copy


async def test_a_missing_key_an_extra_key_or_a_wrong_value_is_rejected() -> None:
    bodies = await _real_bodies()
    for name, body in bodies.items():
        assert errors(component(name), body) == [], name
        for key in body:
            assert errors(component(name), _broken(body, (key,), ...)), (name, key)
        assert errors(component(name), {**body, "surprise": 1}), name
    job, wallet = bodies["JobDetail"], bodies["Wallet"]
    entry = bodies["Journal"]["entries"][0]
    broken = [
        ("Health", _broken(bodies["Health"], ("clock", "mode"), "fast")),
        ("Health", _broken(bodies["Health"], ("journal", "spare"), 0)),
        ("Wallet", _broken(wallet, ("ledger", 0, "note"), ...)),
        ("Wallet", _broken(wallet, ("balance",), "9.8")),
        ("JobDetail", _broken(job, ("output",), None)),  # COMPLETED needs its output
        ("JobDetail", _broken(job, ("key",), KEY)),  # the key must be redacted
        ("JobDetail", _broken(job, ("created_at",), "2026-03-31T10:00:00Z")),
        ("JobDetail", _broken(job, ("webhooks", 0, "outcomes", 0, "attempt"), ...)),
        ("Job", job),  # a command's answer carries no webhooks
        ("JournalEntry", {**entry, "secret": "x"}),
        ("JournalEntry", _broken(entry, ("route",), "webhook")),  # a request is never one
        ("JournalEntry", _broken(entry, ("body_sha256",), "abc")),
        ("ScenarioView", _broken(bodies["ScenarioView"], ("scenarios", "slow"), ...)),
        ("SampleIndex", _broken(bodies["SampleIndex"], ("samples", 0, "name"), "other.png")),
    ]
    for name, body in broken:
        assert errors(component(name), body), name


def test_an_error_body_is_checked_through_the_file_reference() -> None:
    get_job = next(op for op in OPERATIONS if op.id == "getJob")
    at = get_job.at("responses", "404", "content", JSON, "schema")
    good = {"error": "Request not found", "message": "Request 'x' was not found"}
    assert errors(at, good) == []
    assert errors(at, {**good, "extra": True})
    assert errors(at, {"statusCode": 404, "message": "Resource not found"})


def test_an_undocumented_status_or_content_type_is_reported() -> None:
    def answer(method: str, path: str, status: int, media: str, raw: bytes) -> Answer:
        return Answer(method, path, status, CIMultiDict({"Content-Type": media}), raw)

    assert problems_of(answer("GET", "/_mock/health", 200, JSON, b'{"status": "ok"}'))[1]
    assert problems_of(answer("GET", "/_mock/health", 404, JSON, b"{}"))[1]
    assert problems_of(answer("GET", "/_mock/clock", 200, "text/plain", b"now"))[1]
    assert problems_of(answer("GET", "/_mock/samples/x.png", 200, "video/mp4", b"x"))[1]
    assert problems_of(answer("GET", "/_mock/elsewhere", 200, JSON, b"{}"))[1]
    assert problems_of(answer("HEAD", "/_mock/clock", 200, JSON, b""))[1] == []


# the scenario body: the schema accepts exactly what the gateway accepts ------------------------

SCENARIO_BODIES: list[tuple[str, dict[str, Any], bool]] = [
    ("empty", {}, True),
    (
        "scenario section",
        {
            "scenario": {
                "seed": "a",
                "time_scale": 0.5,
                "keys": False,
                "header": True,
                "retry_after": 3,
            }
        },
        True,
    ),
    ("core section", {"server": {"port": 1}}, False),
    ("unknown scenario key", {"scenario": {"speed": 2}}, False),
    ("retry_after 0", {"scenario": {"retry_after": 0}}, False),
    (
        "delays",
        {
            "delays": {
                "queue": 1.5,
                "processing": {"kind": "uniform", "low": 2, "high": 8},
                "response": {"kind": "lognormal", "mu": -3.0, "sigma": 0.5, "max": 2},
                "models": {"m": {"webhook": {"mean": 1, "stddev": 0.1, "kind": "normal"}}},
                "polls": {"queue": 2},
            }
        },
        True,
    ),
    ("uniform without high", {"delays": {"queue": {"kind": "uniform", "low": 1}}}, False),
    ("fixed with low", {"delays": {"queue": {"kind": "fixed", "seconds": 1, "low": 0}}}, False),
    ("table without kind", {"delays": {"queue": {"seconds": 1}}}, True),
    ("negative delay", {"delays": {"queue": -1}}, False),
    ("polls for webhook", {"delays": {"polls": {"webhook": 1}}}, False),
    (
        "http_error",
        {
            "faults": [
                {
                    "action": "http_error",
                    "status": 500,
                    "message": "x",
                    "route": "STATUS",
                    "nth": [1, 2],
                }
            ]
        },
        True,
    ),
    ("http_error without status", {"faults": [{"action": "http_error"}]}, False),
    ("http_error 418", {"faults": [{"action": "http_error", "status": 418}]}, False),
    (
        "402 with message",
        {"faults": [{"action": "http_error", "status": 402, "message": "x"}]},
        False,
    ),
    (
        "402 empty message",
        {"faults": [{"action": "http_error", "status": 402, "message": ""}]},
        True,
    ),
    (
        "latency",
        {
            "faults": [
                {
                    "action": "latency",
                    "seconds": {"kind": "normal", "mean": 1, "stddev": 0.2},
                    "phase": "processing",
                }
            ]
        },
        True,
    ),
    ("latency without seconds", {"faults": [{"action": "latency"}]}, False),
    ("latency with copies", {"faults": [{"action": "latency", "seconds": 1, "copies": 3}]}, False),
    (
        "fail",
        {"faults": [{"action": "fail", "at": "queued", "message": "m", "probability": 0.5}]},
        True,
    ),
    ("fail at two phases", {"faults": [{"action": "fail", "at": ["queued", "processing"]}]}, False),
    ("error with phase", {"faults": [{"action": "error", "phase": "QUEUED"}]}, False),
    ("fail on status", {"faults": [{"action": "fail", "route": "status"}]}, False),
    (
        "duplicate",
        {"faults": [{"action": "webhook_duplicate", "copies": 3, "route": "webhook"}]},
        True,
    ),
    ("drop on generate", {"faults": [{"action": "webhook_drop", "route": "generate"}]}, False),
    ("dribble", {"faults": [{"action": "dribble", "seconds": 2, "chunks": 4}]}, True),
    ("dribble over a table", {"faults": [{"action": "dribble", "seconds": {"seconds": 2}}]}, False),
    ("truncate all", {"faults": [{"action": "truncate", "fraction": 1}]}, False),
    (
        "reset",
        {
            "faults": [
                {"action": "reset", "processed": True, "scenario": "flaky", "key": ["a", "b"]}
            ]
        },
        True,
    ),
    ("unknown action", {"faults": [{"action": "explode"}]}, False),
    ("probability 2", {"faults": [{"action": "malformed", "probability": 2}]}, False),
    ("nth 0", {"faults": [{"action": "empty", "nth": 0}]}, False),
    (
        "rate limits",
        {"rate_limits": {"generate": {"rate": 0.5, "burst": 3}, "concurrent_jobs": 2}},
        True,
    ),
    ("bucket without rate", {"rate_limits": {"generate": {"burst": 3}}}, False),
    ("webhook bucket", {"rate_limits": {"webhook": {"rate": 1}}}, False),
]


def _example_file_sections() -> dict[str, Any]:
    data = tomllib.loads((REPO / "examples" / "scenario.toml").read_text())
    return {k: v for k, v in data.items() if k in ("scenario", "delays", "faults", "rate_limits")}


@pytest.mark.parametrize(
    ("body", "accepted"),
    [pytest.param(body, ok, id=name) for name, body, ok in SCENARIO_BODIES]
    + [pytest.param(_example_file_sections(), True, id="examples/scenario.toml")],
)
async def test_the_scenario_schema_accepts_what_the_gateway_accepts(
    body: dict[str, Any], accepted: bool
) -> None:
    put = next(op for op in OPERATIONS if op.id == "putScenario")
    problems = errors(put.at("requestBody", "content", JSON, "schema"), body)
    assert (problems == []) is accepted, problems
    async with served() as (_gw, client):
        answer = await client.request("PUT", "/_mock/scenario", body=body, key=None)
    assert answer.status == (200 if accepted else 400), answer.raw


def test_the_two_scenario_rules_the_schema_cannot_state_are_left_to_the_gateway() -> None:
    """docs/contract.md names them: unique rule names, and a uniform high at least its low."""
    put = next(op for op in OPERATIONS if op.id == "putScenario")
    at = put.at("requestBody", "content", JSON, "schema")
    twice = {"faults": [{"name": "a", "action": "empty"}, {"name": "a", "action": "reset"}]}
    backwards = {"delays": {"queue": {"kind": "uniform", "low": 5, "high": 1}}}
    for body in (twice, backwards):
        assert errors(at, body) == []
        with pytest.raises(ConfigError):
            faults_from_mapping(body, "test")


# the scenario selection the document describes ------------------------------------------------


async def test_scenario_keys_and_the_header_select_scenarios_on_the_gateways_own_routes() -> None:
    async with served() as (_gw, client):
        request_id = (await client.generate()).body["request_id"]
        assert (await client.status(request_id, headers={HEADER: "503"})).status == 503
        assert (await client.status(request_id, headers={HEADER: "mock-500"})).status == 500
        assert (await client.generate(key=f"{KEY_PREFIX}402")).status == 402
        unknown = await client.generate(headers={HEADER: "nope"})
        assert unknown.status == 400
        assert "nope" in unknown.body["message"]
        # the operator API ignores both
        health = await client.request(
            "GET", "/_mock/health", headers={HEADER: "503"}, key="mock-500"
        )
        assert health.status == 200
