"""The provider contract suite (mockgateway.contract_tests) passes against faithful gateways and fails on flawed ones.

Each flawed gateway is a tiny aiohttp app, served on loopback, that gets exactly one thing wrong;
the suite must fail exactly the checks concerned and pass the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from mockgateway import config_from_mapping, serve_in_thread

from .contract_support import models_config, saved_beside_schemas, served_document

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent
MODEL = "bytedance-omnihuman-v1-5-290"
OPERATION = "bytedance-omnihuman-v1-5-request"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
FREE_CHECKS = {
    "test_missing_key_is_401",
    "test_missing_key_body_is_api_management_error",
    "test_status_without_key_is_401",
    "test_unknown_model_is_400_model_not_found",
    "test_malformed_json_is_400",
    "test_missing_required_field_is_400",
    "test_value_outside_its_enum_is_400",
}
BILLABLE_CHECKS = {
    "test_generate_answers_202",
    "test_accepted_body_shape",
    "test_polling_url_is_the_status_endpoint",
    "test_status_answers_200",
    "test_status_bodies_match_the_doc",
    "test_statuses_only_move_forward",
    "test_timestamps_in_the_doc_format",
    "test_timestamps_in_order",
    "test_reaches_a_terminal_status",
    "test_doc_example_completes_with_output",
    "test_media_is_reachable",
}
ALL_CHECKS = FREE_CHECKS | BILLABLE_CHECKS
# Load the plugin from the checkout by module name, whether or not an installed copy's entry point
# would also load it (blocking the entry point avoids registering the module twice).
PLUGIN = ("-p", "no:mockgateway-contract", "-p", "mockgateway.contract_tests.plugin")


# a tiny gateway, faithful unless told otherwise ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flaws:
    """One field per way to be wrong; the defaults are what the doc says."""

    require_key: bool = True
    accepted_status: int = 202
    drop_accepted_field: str | None = None
    processing_word: str = "PROCESSING"
    drop_status_field: str | None = None
    timestamp_format: str = "{:%Y-%m-%dT%H:%M:%S}.000Z"
    statuses: tuple[str, ...] = ("QUEUED", "PROCESSING", "COMPLETED")
    updated_goes_back: bool = False
    media_status: int = 200
    model_not_found_error: str = "Model not found"


def _stamp(flaws: Flaws, second: int) -> str:
    import datetime as dt

    moment = dt.datetime(2026, 3, 31, 10, 0, second, tzinfo=dt.UTC)
    return flaws.timestamp_format.format(moment)


ACCEPTED: web.AppKey[dict[str, int]] = web.AppKey("accepted", dict)


def tiny_gateway(flaws: Flaws) -> web.Application:
    """The doc's API in a few lines: each poll moves the job one step along ``flaws.statuses``."""
    polls: dict[str, int] = {}

    def unauthorised(request: web.Request) -> web.Response | None:
        if flaws.require_key and not request.headers.get(KEY_HEADER):
            return web.json_response({"statusCode": 401, "message": "Access denied."}, status=401)
        return None

    async def generate(request: web.Request) -> web.Response:
        if (denied := unauthorised(request)) is not None:
            return denied
        model = request.match_info["model"]
        if model != MODEL:
            message = f"Model '{model}' not found or is disabled"
            body = {"error": flaws.model_not_found_error, "message": message}
            return web.json_response(body, status=400)
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"error": "Bad Request", "message": "not JSON"}, status=400)
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("image_url"), str)
            or not isinstance(body.get("audio_url"), str)
            or body.get("resolution", "1080p") not in ("720p", "1080p", "480p")
        ):
            return web.json_response({"error": "Bad Request", "message": "bad body"}, status=400)
        request_id = f"{MODEL}_{uuid.uuid4()}"
        polls[request_id] = 0
        answer = {
            "request_id": request_id,
            "status": "QUEUED",
            "polling_url": f"http://{request.host}/v2/requests/status/{request_id}",
        }
        answer.pop(flaws.drop_accepted_field or "", None)
        return web.json_response(answer, status=flaws.accepted_status)

    async def status(request: web.Request) -> web.Response:
        if (denied := unauthorised(request)) is not None:
            return denied
        request_id = request.match_info["request_id"]
        if request_id not in polls:
            return web.json_response({"error": "Request not found", "message": "?"}, status=404)
        step = min(polls[request_id], len(flaws.statuses) - 1)
        polls[request_id] += 1
        word = flaws.statuses[step]
        done = word == "COMPLETED"
        updated = 10 - step if flaws.updated_goes_back else step * 5
        body: dict[str, Any] = {
            "request_id": request_id,
            "status": flaws.processing_word if word == "PROCESSING" else word,
            "model_id": MODEL,
            "error": None,
            "output": {
                "media_url": [f"http://{request.host}/v1/{request_id}/output.mp4"],
                "media_type": "video/mp4",
            }
            if done
            else None,
            "created_at": _stamp(flaws, 0),
            "updated_at": _stamp(flaws, updated),
            "completed_at": _stamp(flaws, updated) if done else None,
        }
        body.pop(flaws.drop_status_field or "", None)
        return web.json_response(body)

    async def media(request: web.Request) -> web.Response:
        return web.Response(body=b"\x00\x00\x00\x18ftypmp42", status=flaws.media_status)

    app = web.Application()
    app[ACCEPTED] = polls
    app.router.add_post("/{model}/v1/{operation}", generate)
    app.router.add_get("/v2/requests/status/{request_id}", status)
    app.router.add_get("/v1/{request_id}/{filename}", media)
    return app


@contextlib.contextmanager
def served_app(app: web.Application) -> Iterator[str]:
    """Serve ``app`` on a free loopback port from a background thread; yield its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)

    async def start() -> str:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# running the suite -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    passed: set[str]
    failed: dict[str, str]
    skipped: set[str]


def run_suite(pytester: pytest.Pytester, url: str, *extra: str) -> Outcome:
    """Run mockgateway.contract_tests in-process, as a user would with --pyargs, from an empty directory."""
    ini = pytester.makeini("[pytest]\n")
    recorder = pytester.inline_run(
        "-c",
        str(ini),
        "-p",
        "no:cacheprovider",
        *PLUGIN,
        "--pyargs",
        "mockgateway.contract_tests",
        "--mockgateway-gateway-url",
        url,
        "--mockgateway-gateway-api-key",
        "contract-key",
        "--mockgateway-gateway-poll-interval",
        "0.01",
        "--mockgateway-gateway-timeout",
        "5",
        *extra,
    )
    passed, skipped, failed = recorder.listoutcomes()
    name = lambda report: report.nodeid.rsplit("::", 1)[-1]  # noqa: E731
    return Outcome(
        {name(r) for r in passed},
        {name(r): str(r.longrepr) for r in failed},
        {name(r) for r in skipped},
    )


def test_suite_passes_against_a_faithful_gateway(pytester: pytest.Pytester) -> None:
    with served_app(tiny_gateway(Flaws())) as url:
        outcome = run_suite(pytester, url, "--mockgateway-gateway-allow-billable")
    assert outcome.failed == {}
    assert outcome.passed == ALL_CHECKS


def test_billable_checks_skip_without_the_opt_in_and_submit_nothing(
    pytester: pytest.Pytester,
) -> None:
    app = tiny_gateway(Flaws())
    with served_app(app) as url:
        outcome = run_suite(pytester, url)
    assert outcome.passed == FREE_CHECKS
    assert outcome.skipped == BILLABLE_CHECKS
    assert app[ACCEPTED] == {}


def test_billable_checks_share_one_job(pytester: pytest.Pytester) -> None:
    app = tiny_gateway(Flaws())
    with served_app(app) as url:
        run_suite(pytester, url, "--mockgateway-gateway-allow-billable")
    assert len(app[ACCEPTED]) == 1


FLAWED = {
    "wrong status word": (
        Flaws(processing_word="IN_PROGRESS"),
        {"test_status_bodies_match_the_doc"},
    ),
    "missing field in the status body": (
        Flaws(drop_status_field="model_id"),
        {"test_status_bodies_match_the_doc"},
    ),
    "missing polling_url in the 202": (
        Flaws(drop_accepted_field="polling_url"),
        {"test_accepted_body_shape", "test_polling_url_is_the_status_endpoint"},
    ),
    "200 instead of 202": (
        Flaws(accepted_status=200),
        {"test_generate_answers_202"},
    ),
    "sloppy timestamp": (
        Flaws(timestamp_format="{:%Y-%m-%dT%H:%M:%S}Z"),
        {"test_status_bodies_match_the_doc", "test_timestamps_in_the_doc_format"},
    ),
    "no auth": (
        Flaws(require_key=False),
        {
            "test_missing_key_is_401",
            "test_missing_key_body_is_api_management_error",
            "test_status_without_key_is_401",
        },
    ),
    "status moving backwards": (
        Flaws(statuses=("QUEUED", "PROCESSING", "QUEUED", "COMPLETED")),
        {"test_statuses_only_move_forward"},
    ),
    "updated_at going back": (
        Flaws(updated_goes_back=True),
        {"test_timestamps_in_order"},
    ),
    "never finishing": (
        Flaws(statuses=("QUEUED", "PROCESSING")),
        {"test_reaches_a_terminal_status", "test_doc_example_completes_with_output"},
    ),
    "media not served": (
        Flaws(media_status=404),
        {"test_media_is_reachable"},
    ),
    "reworded model-not-found": (
        Flaws(model_not_found_error="Model Not Found"),
        {"test_unknown_model_is_400_model_not_found"},
    ),
}


@pytest.mark.parametrize("flaw", list(FLAWED))
def test_suite_fails_exactly_the_checks_a_flaw_breaks(pytester: pytest.Pytester, flaw: str) -> None:
    flaws, broken = FLAWED[flaw]
    extra = (
        ("--mockgateway-gateway-timeout", "0.3")
        if flaws.statuses == ("QUEUED", "PROCESSING")
        else ()
    )
    with served_app(tiny_gateway(flaws)) as url:
        outcome = run_suite(pytester, url, "--mockgateway-gateway-allow-billable", *extra)
    assert set(outcome.failed) == broken
    never_completed = "test_doc_example_completes_with_output" in broken
    skipped_for_cause = {"test_media_is_reachable"} if never_completed else set()
    assert outcome.passed == ALL_CHECKS - broken - skipped_for_cause
    for check, message in outcome.failed.items():
        assert "the doc requires: " in message, check
        assert "seen: " in message, check


def test_failure_message_says_what_the_doc_requires_and_what_was_seen(
    pytester: pytest.Pytester,
) -> None:
    with served_app(tiny_gateway(Flaws(accepted_status=200))) as url:
        outcome = run_suite(pytester, url, "--mockgateway-gateway-allow-billable")
    message = outcome.failed["test_generate_answers_202"]
    assert "the doc requires: the generate request answers 202 Accepted" in message
    assert f"seen: POST {url}/{MODEL}/v1/{OPERATION} -> 200" in message


def test_missing_gateway_url_is_a_usage_error(pytester: pytest.Pytester) -> None:
    ini = pytester.makeini("[pytest]\n")
    result = pytester.runpytest_inprocess(
        "-c", str(ini), *PLUGIN, "--pyargs", "mockgateway.contract_tests"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the contract suite needs --mockgateway-gateway-url URL*"])


# against mockgateway itself, as an installed package would run it --------------------------------


def _fake_install(site: Path) -> None:
    """A dist-info carrying pyproject's mockgateway.contract_tests pytest11 entry point, as pip would."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    entries = {
        name: target
        for name, target in project["entry-points"]["pytest11"].items()
        if target.startswith("mockgateway.contract_tests")
    }
    assert entries, "pyproject registers no mockgateway.contract_tests pytest11 plugin"
    info = site / "mockgateway_contract_probe-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mockgateway-contract-probe\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entries.items())
    (info / "entry_points.txt").write_text(f"[pytest11]\n{lines}")


def test_pyargs_from_any_directory_passes_against_mockgateway(tmp_path: Path) -> None:
    site = tmp_path / "site"
    _fake_install(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config = config_from_mapping({"lifecycle": {"queue_seconds": 0.05, "processing_seconds": 0.1}})
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{REPO}"}
    with serve_in_thread(config) as gw:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "--pyargs",
                "mockgateway.contract_tests",
                "--mockgateway-gateway-url",
                gw.url,
                "--mockgateway-gateway-api-key",
                "contract-key",
                "--mockgateway-gateway-allow-billable",
                "--mockgateway-gateway-poll-interval",
                "0.02",
                "--mockgateway-gateway-timeout",
                "20",
                "-q",
            ],
            cwd=elsewhere,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(ALL_CHECKS)} passed" in done.stdout


# --mockgateway-gateway-model: any model the gateway declares --------------------------------------

EXAMPLE_MODELS = [m.id for m in models_config().models]


@pytest.fixture(scope="module")
def models_gateway() -> Iterator[str]:
    lifecycle = {"queue_seconds": 0.05, "processing_seconds": 0.1}
    with serve_in_thread(models_config(lifecycle=lifecycle)) as gw:
        yield gw.url


@pytest.mark.parametrize("model_id", EXAMPLE_MODELS)
def test_suite_passes_for_each_model_of_the_examples(
    pytester: pytest.Pytester, models_gateway: str, model_id: str
) -> None:
    outcome = run_suite(
        pytester,
        models_gateway,
        "--mockgateway-gateway-allow-billable",
        "--mockgateway-gateway-model",
        model_id,
    )
    assert outcome.failed == {}
    assert outcome.passed == ALL_CHECKS


def test_the_suite_submits_the_models_example_with_media_inputs_pointed_at_the_urls_given(
    pytester: pytest.Pytester, models_gateway: str
) -> None:
    image = f"{models_gateway}/_mock/samples/portrait.png"
    run_suite(
        pytester,
        models_gateway,
        "--mockgateway-gateway-allow-billable",
        "--mockgateway-gateway-model",
        "acme-image-to-video-v2",
        "--mockgateway-gateway-image-url",
        image,
        "--mockgateway-gateway-resolution",
        "480p",
    )
    with urllib.request.urlopen(f"{models_gateway}/_mock/jobs", timeout=10) as answer:
        jobs = json.load(answer)["jobs"]
    [job] = [
        j for j in jobs if j["model_id"] == "acme-image-to-video-v2" and j["resolution"] == "480p"
    ]
    assert job["inputs"] == {"image_url": image}


def test_a_model_the_document_does_not_describe_fails_every_check_saying_so(
    pytester: pytest.Pytester, models_gateway: str
) -> None:
    outcome = run_suite(pytester, models_gateway, "--mockgateway-gateway-model", "no-such-model")
    assert set(outcome.failed) == FREE_CHECKS
    assert outcome.passed == set()
    message = next(iter(outcome.failed.values()))
    assert "no generate operation for model 'no-such-model'" in message
    assert "acme-text-to-image-v1" in message


def test_the_document_may_be_a_file(pytester: pytest.Pytester, models_gateway: str) -> None:
    path = saved_beside_schemas(served_document(models_gateway), pytester.path / "doc")
    outcome = run_suite(
        pytester,
        models_gateway,
        "--mockgateway-gateway-model",
        "acme-text-to-speech-v1",
        "--mockgateway-gateway-openapi",
        str(path),
    )
    assert outcome.failed == {}
    assert outcome.passed == FREE_CHECKS


# --mockgateway-gateway-operator-token: a gateway whose operator API is guarded ------------------


@pytest.fixture(scope="module")
def guarded_gateway() -> Iterator[str]:
    lifecycle = {"queue_seconds": 0.05, "processing_seconds": 0.1}
    config = models_config(lifecycle=lifecycle, server={"operator_token": "s3cret-operator"})
    with serve_in_thread(config) as gw:
        yield gw.url


def test_the_document_of_a_guarded_gateway_is_fetched_with_the_operator_token(
    pytester: pytest.Pytester, guarded_gateway: str
) -> None:
    outcome = run_suite(
        pytester,
        guarded_gateway,
        "--mockgateway-gateway-model",
        "acme-text-to-speech-v1",
        "--mockgateway-gateway-operator-token",
        "s3cret-operator",
    )
    assert outcome.failed == {}
    assert outcome.passed == FREE_CHECKS


def test_without_the_token_every_check_fails_naming_the_option(
    pytester: pytest.Pytester, guarded_gateway: str
) -> None:
    outcome = run_suite(
        pytester, guarded_gateway, "--mockgateway-gateway-model", "acme-text-to-speech-v1"
    )
    assert set(outcome.failed) == FREE_CHECKS
    message = next(iter(outcome.failed.values()))
    assert "-> 401" in message
    assert "--mockgateway-gateway-operator-token" in message
