"""The OpenAPI document follows the configuration: one generate operation per enabled model, the
status operation, a media operation per output file; openapi.json is the built-in gateway's."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from openapi_spec_validator.readers import read_from_filename

from mockgateway import config_from_mapping, load_config, serve_in_thread
from mockgateway._validation import INPUT_URL_PATTERN
from mockgateway.contract import (
    check_response,
    load_openapi,
    openapi_for,
    openapi_path,
    operation_for,
)
from mockgateway.media import MediaKind
from mockgateway.models import ModelSpec, Per, builtin_models

from .contract_support import MODELS_TOML, saved_beside_schemas, served_document

BUILTIN = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
I2V = "/acme-image-to-video-v2/v1/acme-image-to-video-v2-request"
T2I = "/acme-text-to-image-v1/v1/acme-text-to-image-v1-request"
TTS = "/acme-text-to-speech-v1/v1/acme-text-to-speech-v1-request"
JSON = {"Content-Type": "application/json"}


def _examples_document() -> dict[str, Any]:
    config = load_config(MODELS_TOML)
    return openapi_for(config.models)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _generate_operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        path: item["post"]
        for path, item in document["paths"].items()
        if "post" in item and item["post"]["tags"] == ["generate"]
    }


# the built-in document ---------------------------------------------------------------------------


def test_openapi_json_is_what_the_builder_makes_of_the_builtin_models() -> None:
    built = openapi_for(builtin_models())
    assert built == load_openapi()
    assert openapi_path().read_text() == json.dumps(built, indent=2, ensure_ascii=False) + "\n"


def test_a_default_gateway_serves_exactly_openapi_json() -> None:
    with serve_in_thread() as gw:
        assert served_document(gw.url) == load_openapi()


def test_the_served_document_needs_the_operator_token_when_one_is_set() -> None:
    token = "contract-operator-token"
    with serve_in_thread(config_from_mapping({"server": {"operator_token": token}})) as gw:
        with pytest.raises(Exception, match="401"):
            served_document(gw.url)
        assert served_document(gw.url, token) == load_openapi()


# a gateway with more models -----------------------------------------------------------------------


def test_one_generate_operation_per_enabled_model_with_stable_unique_ids() -> None:
    document = _examples_document()
    operations = _generate_operations(document)
    assert {path: op["operationId"] for path, op in operations.items()} == {
        BUILTIN: "generate",
        I2V: "generate_acme_image_to_video_v2",
        T2I: "generate_acme_text_to_image_v1",
        TTS: "generate_acme_text_to_speech_v1",
    }
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_each_model_has_its_request_schema_examples_and_the_documented_answers() -> None:
    document = _examples_document()
    template = load_openapi()["paths"][BUILTIN]["post"]
    config = load_config(MODELS_TOML)
    models = {f"/{m.id}/v1/{m.operation}": m for m in config.models}
    for path, operation in _generate_operations(document).items():
        model = models[path]
        body = operation["requestBody"]["content"]["application/json"]
        if path == BUILTIN:
            assert body["schema"] == {"$ref": "generate-request.schema.json"}
            continue
        schema = _resolve(document, body["schema"]["$ref"])
        assert list(schema["properties"]) == list(model.request_schema["properties"])
        for name, prop in schema["properties"].items():
            declared = model.request_schema["properties"][name]
            if name in dict(model.inputs):  # the gateway's URL rule, stated
                assert prop["pattern"] == INPUT_URL_PATTERN
                assert prop["description"].startswith(declared["description"])
                prop = {k: v for k, v in prop.items() if k not in ("pattern", "description")}
                declared = {k: v for k, v in declared.items() if k != "description"}
            assert prop == declared
        assert schema["examples"] == model.request_schema["examples"]
        assert body["example"] == model.request_schema["examples"][0]
        assert Draft202012Validator(schema).is_valid(body["example"])
        assert set(operation["responses"]) == set(template["responses"])
        for status in ("202", "400", "401", "403", "429", "500"):
            assert operation["responses"][status] == template["responses"][status]
        assert operation["parameters"] == template["parameters"]
        extension = operation["x-mockgateway-model"]
        assert extension["inputs"] == {name: kind.value for name, kind in model.inputs}
        assert (extension["id"], extension["per"]) == (model.id, model.per.value)
    per_job = _generate_operations(document)[I2V]["responses"]["402"]["description"]
    assert "the price of one job" in per_job


def test_media_operations_follow_the_output_kinds() -> None:
    document = _examples_document()
    media = {
        path: item["get"]
        for path, item in document["paths"].items()
        if item.get("get", {}).get("tags") == ["media"]
    }
    assert {p: list(op["responses"]["200"]["content"]) for p, op in media.items()} == {
        "/v1/{request_id}/output.mp4": ["video/mp4"],
        "/v1/{request_id}/output.png": ["image/png"],
        "/v1/{request_id}/output.mp3": ["audio/mpeg"],
    }
    assert (
        media["/v1/{request_id}/output.mp4"]
        == load_openapi()["paths"]["/v1/{request_id}/output.mp4"]["get"]
    )
    assert media["/v1/{request_id}/output.png"]["operationId"] == "getMedia_output_png"
    assert media["/v1/{request_id}/output.mp3"]["summary"] == "Download a completed job's audio"
    links = document["paths"]["/v2/requests/status/{request_id}"]["get"]["responses"]["200"]
    assert {link["operationId"] for link in links["links"].values()} == {
        op["operationId"] for op in media.values()
    }


def test_jpeg_and_wav_outputs_and_the_configured_video_file() -> None:
    builtin = builtin_models()[0]
    image = _declared("stills", "image", "jpeg")
    speech = _declared("voice", "audio", "wav")
    document = openapi_for(
        (builtin, image, speech), video_filename="clip.mp4", video_media_type="video/webm"
    )
    paths = document["paths"]
    assert list(paths["/v1/{request_id}/clip.mp4"]["get"]["responses"]["200"]["content"]) == [
        "video/webm"
    ]
    assert paths["/v1/{request_id}/clip.mp4"]["get"]["operationId"] == "getMedia"
    assert (
        "image/jpeg" in paths["/v1/{request_id}/output.jpg"]["get"]["responses"]["200"]["content"]
    )
    assert "audio/wav" in paths["/v1/{request_id}/output.wav"]["get"]["responses"]["200"]["content"]


def _declared(model_id: str, output: str, fmt: str, **schema: Any) -> ModelSpec:
    return ModelSpec(
        id=model_id,
        operation=f"{model_id}-request",
        output=MediaKind(output),
        format=fmt,
        price=builtin_models()[0].price,
        per=Per.REQUEST,
        request_schema={"type": "object", **schema},
        length=None,
    )


def test_a_disabled_model_is_left_out_and_the_info_lists_the_others() -> None:
    builtin = builtin_models()[0]
    other = _declared("other.model", "image", "png")
    document = openapi_for((replace(builtin, enabled=False), other))
    assert list(_generate_operations(document)) == ["/other.model/v1/other.model-request"]
    assert "generate" not in json.dumps(
        [op["operationId"] for item in document["paths"].values() for op in item.values()]
    ).replace("generate_other_model", "")
    assert document["info"]["description"].endswith("the models it serves: other.model.")
    assert "/v1/{request_id}/output.mp4" not in document["paths"]


def test_ids_that_sanitise_alike_stay_unique() -> None:
    document = openapi_for((_declared("a-b", "image", "png"), _declared("a.b", "image", "png")))
    ids = [op["operationId"] for op in _generate_operations(document).values()]
    assert ids == ["generate_a_b", "generate_a_b_2"]
    assert list(document["components"]["schemas"]) == ["a_b_request", "a_b_request_2"]


def test_local_references_of_an_inline_schema_still_resolve() -> None:
    spec = _declared(
        "refs",
        "image",
        "png",
        properties={"size": {"$ref": "#/$defs/size"}},
        **{"$defs": {"size": {"enum": ["s", "m"]}}},
    )
    document = openapi_for((spec,))
    schema = document["components"]["schemas"]["refs_request"]
    ref = schema["properties"]["size"]["$ref"]
    assert ref == "#/components/schemas/refs_request/$defs/size"
    assert _resolve(document, ref) == {"enum": ["s", "m"]}


def test_a_reference_to_an_anchor_is_left_to_name_its_schema() -> None:
    spec = _declared(
        "anchors",
        "image",
        "png",
        properties={"tag": {"$ref": "#short"}},
        **{"$defs": {"s": {"$anchor": "short", "type": "string", "maxLength": 3}}},
    )
    schema = openapi_for((spec,))["components"]["schemas"]["anchors_request"]
    assert schema["properties"]["tag"]["$ref"] == "#short"
    assert schema["$defs"]["s"]["$anchor"] == "short"
    assert Draft202012Validator(schema).is_valid({"tag": "abc"})
    assert not Draft202012Validator(schema).is_valid({"tag": "abcd"})


def test_the_served_document_is_valid_openapi_3_1(tmp_path: Path) -> None:
    with serve_in_thread(load_config(MODELS_TOML)) as gw:
        document = served_document(gw.url)
    assert document == _examples_document()
    spec, base_uri = read_from_filename(str(saved_beside_schemas(document, tmp_path)))
    validate_openapi(spec, base_uri=base_uri)


# checking answers against the served document ------------------------------------------------------


def test_operation_for_finds_each_models_operation_in_the_served_document() -> None:
    document = _examples_document()
    assert operation_for("POST", I2V, document) == "generate_acme_image_to_video_v2"
    assert operation_for("POST", BUILTIN, document) == "generate"
    assert operation_for("POST", "/unknown/v1/op", document) == "generate"
    assert operation_for("GET", "/v1/rid/output.png", document) == "getMedia_output_png"
    assert operation_for("HEAD", "/v1/rid/output.mp3", document) == "getMedia_output_mp3"
    assert operation_for("GET", "/v1/rid/other.bin", document) == "getMedia"
    assert operation_for("GET", "/v2/requests/status/rid", document) == "getStatus"
    assert operation_for("GET", I2V, document) is None
    assert operation_for("POST", I2V) == "generate"  # the built-in document: any model's path


def test_check_response_checks_a_generate_against_its_models_operation() -> None:
    document = _examples_document()
    rid = "acme-image-to-video-v2_0195f2a0-0000-7000-8000-000000000000"
    accepted = {
        "request_id": rid,
        "status": "QUEUED",
        "polling_url": f"http://127.0.0.1:8080/v2/requests/status/{rid}",
    }
    raw = json.dumps(accepted).encode()
    assert check_response("POST", I2V, 202, JSON, raw, document=document) == []
    other = "http://127.0.0.1:8080/v2/requests/status/another"
    wrong = json.dumps({**accepted, "polling_url": other}).encode()
    assert check_response("POST", I2V, 202, JSON, wrong, document=document) == [
        f"202: polling_url {other} does not end with /v2/requests/status/{rid}"
    ]
    problems = check_response("POST", I2V, 204, JSON, b"", document=document)
    assert problems[0].startswith("generate_acme_image_to_video_v2: status 204 is not documented")
