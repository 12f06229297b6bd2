"""The JSON Schemas and the OpenAPI document: well-formed, carrying the doc's examples, strict where the doc is."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.readers import read_from_filename

from mockgateway import contract
from mockgateway._jobs import Job, Status, status_body
from mockgateway._validation import INPUT_URL_PATTERN, WEBHOOK_URL_PATTERN
from mockgateway.contract import _schemas

REPO = Path(__file__).resolve().parent.parent
SCHEMAS = REPO / "schemas"
RID = "bytedance-omnihuman-v1-5-290_019dxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"

# The doc's own examples, copied as the doc shows them.
DOC_EXAMPLES: dict[str, list[Any]] = {
    "generate-request": [
        {
            "image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
            "audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
            "resolution": "1080p",
        }
    ],
    "generate-accepted": [
        {
            "request_id": RID,
            "status": "QUEUED",
            "polling_url": f"https://gateway.pixazo.ai/v2/requests/status/{RID}",
        }
    ],
    "gateway-error": [
        {"error": "Insufficient Balance", "message": "Your wallet does not have enough balance."},
        {
            "error": "Model not found",
            "message": "Model 'bytedance-omnihuman-v1-5-290' not found or is disabled",
        },
    ],
    "status": [
        {
            "request_id": RID,
            "status": "ERROR",
            "model_id": "bytedance-omnihuman-v1-5-290",
            "error": "Description of the error",
            "output": None,
        },
        {
            "request_id": RID,
            "status": "COMPLETED",
            "model_id": "bytedance-omnihuman-v1-5-290",
            "error": None,
            "output": {
                "media_url": [
                    "https://pub-582b7213209642b9b995c96c95a30381.r2.dev/v1/bytedance-omnihuman-v1-5-290_019dxxxx-xxxx/output.ext"
                ],
                "media_type": "application/octet-stream",
            },
            "created_at": "2026-03-31T10:00:00.000Z",
            "updated_at": "2026-03-31T10:00:15.000Z",
            "completed_at": "2026-03-31T10:00:15.000Z",
        },
    ],
}
DOC_EXAMPLES["webhook"] = DOC_EXAMPLES["status"]


def _files() -> list[Path]:
    return sorted(SCHEMAS.glob("*.schema.json"))


def test_one_schema_file_per_message() -> None:
    assert [p.name.removesuffix(".schema.json") for p in _files()] == sorted(contract.SCHEMA_NAMES)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_schema_is_draft_2020_12_with_id_description_and_valid_examples(path: Path) -> None:
    schema = json.loads(path.read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + path.name)
    assert len(schema["description"]) > 40
    assert schema["examples"]
    name = path.name.removesuffix(".schema.json")
    for example in schema["examples"]:
        assert contract.schema_errors(name, example) == [], example


@pytest.mark.parametrize("name", sorted(DOC_EXAMPLES))
def test_the_docs_own_examples_are_listed_and_valid(name: str) -> None:
    listed = contract.load_schema(name)["examples"]
    for example in DOC_EXAMPLES[name]:
        assert example in listed
        assert contract.schema_errors(name, example) == []


def test_every_description_part_is_tagged_or_neutral() -> None:
    for path in _files():
        text = path.read_text()
        for tag in re.findall(r"\[([a-z]+)\]", text):
            assert tag in {"doc", "inferred", "mock"}, (path.name, tag)


def test_status_schema_explains_the_timestamp_decision() -> None:
    description = contract.load_schema("status")["description"]
    assert "ERROR example" in description
    assert "does not require them" in description


def _completed() -> dict[str, Any]:
    return json.loads(json.dumps(DOC_EXAMPLES["status"][1]))


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"output": None}, "$.output"),
        ({"error": "boom"}, "$.error"),
        ({"completed_at": None}, "$.completed_at"),
        ({"status": "DONE"}, "$.status"),
        ({"created_at": "2026-03-31T10:00:00Z"}, "$.created_at"),
        ({"created_at": "2026-03-31T10:00:00.000+00:00"}, "$.created_at"),
        ({"updated_at": "2026-03-31 10:00:15.000Z"}, "$.updated_at"),
        ({"output": {"media_url": [], "media_type": "video/mp4"}}, "$.output"),
        ({"model_id": 5}, "$.model_id"),
    ],
)
def test_status_schema_rejects_a_completed_body_broken_one_way(
    change: dict[str, Any], complaint: str
) -> None:
    body = {**_completed(), **change}
    errors = contract.schema_errors("status", body)
    assert errors
    assert any(complaint in error for error in errors), errors


@pytest.mark.parametrize("status", ["QUEUED", "PROCESSING"])
def test_a_running_job_has_no_output_error_or_completed_at(status: str) -> None:
    base = {
        "request_id": RID,
        "status": status,
        "model_id": "m",
        "error": None,
        "output": None,
        "created_at": "2026-03-31T10:00:00.000Z",
        "updated_at": "2026-03-31T10:00:00.000Z",
        "completed_at": None,
    }
    assert contract.schema_errors("status", base) == []
    for key, value in [
        ("completed_at", "2026-03-31T10:00:00.000Z"),
        ("error", "x"),
        ("output", _completed()["output"]),
    ]:
        assert contract.schema_errors("status", {**base, key: value}), key


@pytest.mark.parametrize("status", ["FAILED", "ERROR"])
def test_a_failed_job_needs_an_error_and_no_output(status: str) -> None:
    body = {**DOC_EXAMPLES["status"][0], "status": status}
    assert contract.schema_errors("status", body) == []
    assert contract.schema_errors("status", {**body, "error": None})
    assert contract.schema_errors("status", {**body, "output": _completed()["output"]})


def test_webhook_body_is_a_terminal_status_body() -> None:
    queued = {**DOC_EXAMPLES["status"][0], "status": "QUEUED", "error": None}
    assert contract.schema_errors("status", queued) == []
    assert contract.schema_errors("webhook", queued)


@pytest.mark.parametrize("status", list(Status))
def test_the_gateways_own_status_body_matches_for_every_status(status: Status) -> None:
    job = Job(
        request_id=RID,
        model_id="bytedance-omnihuman-v1-5-290",
        key="k",
        inputs=(("image_url", "https://a.test/i.png"), ("audio_url", "https://a.test/a.mp3")),
        resolution="1080p",
        created_at=1_774_951_200.0,
        updated_at=1_774_951_200.0,
        media_urls=("http://127.0.0.1:1/v1/x/output.mp4",),
    )
    if status is not Status.QUEUED:
        path = {
            Status.PROCESSING: [Status.PROCESSING],
            Status.COMPLETED: [Status.PROCESSING, Status.COMPLETED],
            Status.FAILED: [Status.FAILED],
            Status.ERROR: [Status.PROCESSING, Status.ERROR],
        }[status]
        for step, target in enumerate(path, 1):
            job.move(target, 1_774_951_200.0 + 5 * step, error="inputs rejected")
    assert contract.status_body_problems(status_body(job)) == []


def test_request_schema_patterns_are_the_gateways_own_rules() -> None:
    request = contract.load_schema("generate-request")
    assert request["properties"]["image_url"]["pattern"] == INPUT_URL_PATTERN
    assert request["properties"]["audio_url"]["pattern"] == INPUT_URL_PATTERN
    generate = contract.load_openapi()["paths"][
        "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
    ]["post"]
    header = next(p for p in generate["parameters"] if p["name"] == "X-Webhook-URL")
    assert header["schema"]["pattern"] == WEBHOOK_URL_PATTERN


# OpenAPI -----------------------------------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1() -> None:
    document, base_uri = read_from_filename(str(contract.openapi_path()))
    assert document["openapi"].startswith("3.1")
    validate_openapi(document, base_uri=base_uri)


def test_openapi_refers_to_existing_schema_files_only() -> None:
    refs = re.findall(r'"\$ref": "([^"]+)"', contract.openapi_path().read_text())
    assert refs
    for ref in refs:
        assert (SCHEMAS / ref).is_file(), ref


def test_openapi_documents_every_status_code_the_doc_lists() -> None:
    paths = contract.load_openapi()["paths"]
    generate = paths["/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"]["post"]
    assert set(generate["responses"]) >= {"202", "400", "401", "402", "403", "429", "500"}
    assert generate["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    # The webhook is the top-level webhooks.jobStatus: it is sent only when X-Webhook-URL is given,
    # and an OpenAPI callback is fired by mock servers such as Prism after every generate.
    assert "callbacks" not in generate
    assert "jobStatus" in contract.load_openapi()["webhooks"]
    status = paths["/v2/requests/status/{request_id}"]["get"]
    assert set(status["responses"]) >= {"200", "401", "404"}
    assert "/v1/{request_id}/output.mp4" in paths


def test_openapi_names_the_key_header_and_the_webhook() -> None:
    document = contract.load_openapi()
    scheme = document["components"]["securitySchemes"]["subscriptionKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey",
        "header",
        "Ocp-Apim-Subscription-Key",
    )
    assert document["security"] == [{"subscriptionKey": []}]
    webhook = document["webhooks"]["jobStatus"]["post"]["requestBody"]["content"]
    assert webhook["application/json"]["schema"]["$ref"] == "webhook.schema.json"


# the loader --------------------------------------------------------------------------------------


def test_loader_reads_the_checkout_when_not_installed() -> None:
    assert contract.schema_dir() == SCHEMAS


def test_loader_prefers_the_installed_copy(tmp_path: Path) -> None:
    package = tmp_path / "site" / "mockgateway"
    shutil.copytree(SCHEMAS, package / "_schemas")
    found = _schemas.find_schema_dir(_schemas.candidate_dirs(package))
    assert found == package / "_schemas"
    assert contract.load_schema("status", found)["$id"] == contract.load_schema("status")["$id"]
    # and the installed copy resolves cross-file references on its own
    assert contract.schema_errors("webhook", DOC_EXAMPLES["webhook"][0], found) == []


def test_loader_names_every_place_it_looked(tmp_path: Path) -> None:
    with pytest.raises(contract.SchemaNotFound) as caught:
        _schemas.find_schema_dir(_schemas.candidate_dirs(tmp_path / "mockgateway"))
    assert str(tmp_path / "mockgateway" / "_schemas") in str(caught.value)
    assert str(tmp_path / "schemas") in str(caught.value)


def test_unknown_schema_name_is_refused() -> None:
    with pytest.raises(contract.SchemaNotFound, match="known: apim-error"):
        contract.load_schema("nope")


def test_wheel_ships_the_schemas_where_the_loader_looks() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel["force-include"]["schemas"] == "mockgateway/_schemas"
    assert wheel["packages"] == ["mockgateway"]  # the provider suite is mockgateway.contract_tests
    assert _schemas.candidate_dirs()[0] == REPO / "mockgateway" / "_schemas"


def test_cross_file_references_resolve_offline() -> None:
    resolved = contract.registry().resolver().lookup(contract.load_schema("webhook")["$id"])
    assert resolved.contents["title"] == "Webhook callback body"
    status_id = contract.load_schema("status")["$id"]
    assert contract.registry().resolver().lookup(status_id).contents["title"] == "Status body"
