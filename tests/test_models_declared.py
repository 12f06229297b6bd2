"""Model declarations: what they mean, and every bad one stopping ``serve`` with exit 2 naming the
model, the key and the file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from mockgateway import ApiError, ConfigError, load_config
from mockgateway.media import MediaKind
from mockgateway.models import (
    OMNIHUMAN_MODEL_ID,
    LengthRule,
    ModelSpec,
    Per,
    builtin_models,
    parse_request,
)
from tests.support import serve_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "models.toml"

SCHEMA = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "duration": {"type": "integer", "enum": [5, 10]},
        "image_url": {"type": "string"},
        "resolution": {"type": "string", "enum": ["480p", "720p"]},
    },
}


def declare(tmp_path: Path, model: str, *, schema: object = SCHEMA) -> Path:
    (tmp_path / "m.schema.json").write_text(json.dumps(schema))
    path = tmp_path / "gateway.toml"
    path.write_text("[[models]]\n" + model)
    return path


GOOD = """id = "acme-v2"
operation = "acme-v2-request"
output = "video"
price = "0.35"
per = "request"
request_schema = "m.schema.json"
inputs = { image_url = "image" }
duration = { field = "duration", default = 5 }
resolution = { field = "resolution", default = "720p" }
"""


def model_of(path: Path, model_id: str = "acme-v2") -> ModelSpec:
    return next(m for m in load_config(path).models if m.id == model_id)


def test_a_declaration_reads_into_a_model_beside_the_built_in(tmp_path: Path) -> None:
    config = load_config(declare(tmp_path, GOOD))
    assert [m.id for m in config.models] == [OMNIHUMAN_MODEL_ID, "acme-v2"]
    spec = config.models[1]
    assert spec.output is MediaKind.VIDEO
    assert spec.format == "mp4"
    assert spec.price == Decimal("0.35")
    assert spec.per is Per.REQUEST
    assert spec.inputs == (("image_url", MediaKind.IMAGE),)
    assert spec.length == LengthRule(field="duration", default=5.0)
    assert spec.resolution is not None
    assert spec.resolution.default == "720p"
    assert spec.source == str(tmp_path / "gateway.toml")
    assert spec.cost(7.2) == Decimal("0.35")  # per request: the length does not matter
    assert spec.max_cost("720p") == Decimal("0.35")


def test_the_built_in_model_is_a_declaration_file_in_the_package() -> None:
    (spec,) = builtin_models()
    assert spec.id == OMNIHUMAN_MODEL_ID
    assert spec.source.endswith("omnihuman-v1-5.toml")
    assert spec.per is Per.OUTPUT_SECOND
    assert spec.price == Decimal("0.16")
    assert spec.cost(10.2) == Decimal("1.76")  # 11 started seconds
    assert spec.max_seconds == (("1080p", 30.0), ("720p", 60.0), ("480p", 60.0))
    assert spec.max_cost("1080p") == Decimal("4.80")
    assert spec.max_cost("720p") == Decimal("9.60")
    assert builtin_models("720p")[0].resolution.default == "720p"  # type: ignore[union-attr]


def test_a_row_with_a_known_id_changes_only_what_it_gives(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(f'[[models]]\nid = "{OMNIHUMAN_MODEL_ID}"\nprice_per_second = "0.20"\n')
    (spec,) = load_config(path).models
    assert spec.price == Decimal("0.20")
    assert spec.per is Per.OUTPUT_SECOND
    assert spec.inputs == builtin_models()[0].inputs
    assert spec.request_schema == builtin_models()[0].request_schema


def test_a_model_given_only_an_id_operation_and_price_works_like_omnihuman(
    tmp_path: Path,
) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[[models]]\nid = "other"\noperation = "other-request"\n')
    spec = model_of(path, "other")
    assert spec.operation == "other-request"
    assert spec.inputs == builtin_models()[0].inputs
    assert spec.source == str(path)


def test_an_inline_schema_and_a_fixed_length(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text(
        '[[models]]\nid = "tts"\noperation = "tts-request"\noutput = "audio"\nformat = "wav"\n'
        'price = "0.01"\nper = "output_second"\nduration = { seconds = 3 }\n'
        '[models.request_schema]\ntype = "object"\nrequired = ["text"]\n'
        '[models.request_schema.properties.text]\ntype = "string"\n'
    )
    spec = model_of(path, "tts")
    assert spec.output is MediaKind.AUDIO
    assert spec.media_type == "audio/wav"
    assert spec.output_filename == "output.wav"
    assert spec.resolution is None
    request = parse_request(spec, b'{"text": "hi"}', max_bytes=65536)
    assert request.seconds == 3.0
    assert request.inputs == ()
    assert request.resolution is None


DURATION = 'duration = { field = "duration", default = 5 }'
IMAGE_OUTPUT = GOOD.replace('output = "video"', 'output = "image"').replace(DURATION + "\n", "")


@pytest.mark.parametrize(
    ("text", "key", "detail"),
    [
        (GOOD.replace('"video"', '"hologram"'), "output", "unknown output kind 'hologram'"),
        (GOOD.replace('price = "0.35"\n', ""), "price", "needs its price"),
        (
            GOOD.replace('{ image_url = "image" }', '{ image_url = "image", mask_url = "image" }'),
            "inputs",
            "input field 'mask_url' is not defined in the request schema",
        ),
        (
            GOOD.replace(DURATION, 'duration = { field = "prompt" }'),
            "duration.field",
            "a duration field must be an integer or a number",
        ),
        (
            GOOD.replace(DURATION, 'duration = { audio = "image_url" }'),
            "duration.audio",
            "'image_url' is not an audio input of this model",
        ),
        (IMAGE_OUTPUT + 'format = "gif"\n', "format", 'a image output is one of "png", "jpeg"'),
        (GOOD.replace('per = "request"', 'per = "frame"'), "per", "must be one of 'request'"),
        (
            GOOD.replace('"m.schema.json"', '"missing.schema.json"'),
            "request_schema",
            "cannot read",
        ),
        (
            GOOD.replace('default = "720p"', 'default = "4k"'),
            "resolution.default",
            "the gateway renders 480p, 720p, 1080p",
        ),
        (GOOD + "colour = 3\n", "colour", "unknown key"),
    ],
)
def test_a_bad_declaration_stops_serve_with_exit_2_naming_model_key_and_file(
    tmp_path: Path, text: str, key: str, detail: str
) -> None:
    path = declare(tmp_path, text)
    result = serve_config(path)
    assert result.returncode == 2, result.stderr
    assert f"key 'models[0].{key}' in {path}: model 'acme-v2': " in result.stderr, result.stderr
    assert detail in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("schema", "detail"),
    [
        ({"type": "object", "properties": {"prompt": {"type": "text"}}}, "not a valid JSON Schema"),
        ({"type": "object", "required": "prompt"}, "not a valid JSON Schema"),
        ({"type": "array"}, 'must describe a JSON object (type "object")'),
        (
            {"type": "object", "properties": {"p": {"$ref": "https://elsewhere.test/p.json"}}},
            "refers to another document",
        ),
        (
            {"type": "object", "required": ["p"], "examples": [{}]},
            "its example 0 does not meet it",
        ),
        (
            {"type": "object", "properties": {"a": {"$ref": "#/$defs/nope"}}},
            "its $ref '#/$defs/nope' points at nothing in the schema",
        ),
        (
            {"type": "object", "properties": {"a": {"$dynamicRef": "https://x.test/s#m"}}},
            "refers to another document ($dynamicRef 'https://x.test/s#m')",
        ),
        (
            {
                "type": "object",
                "properties": {"a": {"$ref": "#/$defs/a"}},
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
            },
            "goes round in a loop of references",
        ),
    ],
)
def test_a_request_schema_that_is_not_usable_is_refused(
    tmp_path: Path, schema: dict[str, object], detail: str
) -> None:
    text = GOOD.replace('inputs = { image_url = "image" }\n', "")
    text = text.replace('duration = { field = "duration", default = 5 }\n', "")
    text = text.replace('resolution = { field = "resolution", default = "720p" }\n', "")
    path = declare(tmp_path, text, schema=schema)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "'models[0].request_schema'" in message
    assert "model 'acme-v2'" in message
    assert detail in message
    assert str(path) in message


def test_the_example_configuration_declares_the_three_kinds() -> None:
    models = {m.id: m for m in load_config(EXAMPLE).models}
    i2v = models["acme-image-to-video-v2"]
    assert i2v.per is Per.REQUEST
    assert i2v.properties["duration"]["enum"] == [5, 10]
    assert "prompt" in i2v.properties
    assert models["acme-text-to-image-v1"].output is MediaKind.IMAGE
    speech = models["acme-text-to-speech-v1"]
    assert speech.output is MediaKind.AUDIO
    assert speech.per is Per.OUTPUT_SECOND


# the request parser: the schema's complaint, naming the field ---------------------------------


@pytest.fixture(scope="module")
def i2v() -> ModelSpec:
    return next(m for m in load_config(EXAMPLE).models if m.id == "acme-image-to-video-v2")


def refused(spec: ModelSpec, body: object) -> str:
    with pytest.raises(ApiError) as caught:
        parse_request(spec, json.dumps(body).encode(), max_bytes=65536)
    assert caught.value.status == 400
    assert set(caught.value.body) == {"error", "message"}
    assert caught.value.body["error"] == "Bad Request"
    message: str = caught.value.body["message"]
    return message


IMAGE = "https://example.com/face.png"


def test_a_valid_body_gives_its_length_resolution_and_aspect(i2v: ModelSpec) -> None:
    raw = json.dumps({"image_url": IMAGE, "prompt": "wave", "duration": 10}).encode()
    request = parse_request(i2v, raw, max_bytes=65536)
    assert request.inputs == (("image_url", IMAGE),)
    assert request.seconds == 10.0
    assert request.resolution == "720p"
    assert request.aspect_ratio == "16:9"
    assert request.extra_fields == ()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"image_url": IMAGE}, "prompt is required"),
        ({"prompt": "x"}, "image_url is required"),
        ({"image_url": IMAGE, "prompt": ""}, "prompt: '' should be non-empty"),
        ({"image_url": IMAGE, "prompt": 5}, "prompt must be a string, got a number"),
        (
            {"image_url": IMAGE, "prompt": "x", "duration": 7},
            "duration must be one of 5, 10; got 7",
        ),
        (
            {"image_url": IMAGE, "prompt": "x", "duration": "5"},
            "duration must be an integer, one of 5, 10; got a string",
        ),
        (
            {"image_url": IMAGE, "prompt": "x", "resolution": "4k"},
            'resolution must be one of "480p", "720p", "1080p"; got \'4k\'',
        ),
        ({"image_url": "ftp://x/y.png", "prompt": "x"}, "image_url must be an absolute http(s)"),
        (
            {"image_url": IMAGE, "prompt": "x", "seed": 1},
            "request body: Additional properties are not allowed ('seed' was unexpected)",
        ),
    ],
)
def test_each_broken_body_is_a_400_naming_the_field(
    i2v: ModelSpec, body: dict[str, object], message: str
) -> None:
    assert refused(i2v, body).startswith(message)


def test_omnihumans_messages_are_unchanged() -> None:
    (spec,) = builtin_models()
    assert refused(spec, {"audio_url": IMAGE}) == "image_url is required"
    assert refused(spec, {"image_url": IMAGE}) == "audio_url is required"
    body = {"image_url": IMAGE, "audio_url": IMAGE, "resolution": 5}
    assert refused(spec, body) == (
        "resolution must be a string, one of 720p, 1080p, 480p; got a number"
    )
    body["resolution"] = "4k"
    assert refused(spec, body) == 'resolution must be one of "720p", "1080p", "480p"; got \'4k\''
    with pytest.raises(ApiError) as caught:
        parse_request(spec, b"  ", max_bytes=65536)
    assert caught.value.body["message"] == (
        "request body is empty; expected a JSON object with image_url and audio_url"
    )


def test_a_length_over_the_gateways_bound_is_refused_naming_the_field(tmp_path: Path) -> None:
    schema = {"type": "object", "properties": {"seconds": {"type": "number"}}}
    text = (
        'id = "long"\noperation = "long-request"\noutput = "audio"\nprice = "0.01"\n'
        'request_schema = "m.schema.json"\nduration = { field = "seconds", default = 2 }\n'
    )
    spec = model_of(declare(tmp_path, text, schema=schema), "long")
    assert (
        refused(spec, {"seconds": 1e6}) == "seconds must be from 0.04 to 600 seconds, got 1000000.0"
    )
    assert refused(spec, {"seconds": 1e-5}).startswith("seconds must be from 0.04 to 600")
    assert parse_request(spec, b"{}", max_bytes=65536).seconds == 2.0


def test_a_schema_with_local_references_and_anchors_that_resolve_is_taken(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "required": ["prompt"],
        "properties": {"prompt": {"$ref": "#/$defs/text"}, "tag": {"$ref": "#short"}},
        "$defs": {
            "text": {"type": "string", "minLength": 1},
            "s": {"$anchor": "short", "type": "string", "maxLength": 3},
        },
    }
    text = 'id = "refs"\noperation = "refs-request"\noutput = "image"\nprice = "0.1"\n'
    spec = model_of(
        declare(tmp_path, text + 'request_schema = "m.schema.json"\n', schema=schema), "refs"
    )
    assert parse_request(spec, b'{"prompt": "a", "tag": "ab"}', max_bytes=65536).inputs == ()
    assert refused(spec, {"prompt": "a", "tag": "abcd"}).startswith("tag: 'abcd' is too long")


# what the gateway reads from a body must agree with what the schema publishes -----------------

AGREE = {
    "type": "object",
    "required": ["image_url"],
    "properties": {
        "image_url": {"type": "string"},
        "d": {"type": "integer", "enum": [5, 10]},
        "r": {"type": "string", "enum": ["480p", "720p"]},
        "free": {},
        "count": {"type": "integer"},
    },
}
BASE = (
    'id = "agree"\noperation = "agree-request"\noutput = "video"\nprice = "0.2"\n'
    'request_schema = "m.schema.json"\ninputs = { image_url = "image" }\n'
)


@pytest.mark.parametrize(
    ("extra", "schema_change", "key", "detail"),
    [
        ('duration = { field = "d" }\n', {}, "duration.default", "'d' is optional in the schema"),
        (
            'duration = { field = "d", default = 7 }\n',
            {},
            "duration.default",
            "7 is not a value the schema allows for 'd'",
        ),
        (
            'resolution = { field = "free", default = "720p" }\n',
            {},
            "resolution.field",
            "the schema must list the values of 'free' (an enum)",
        ),
        (
            'aspect_ratio = { field = "free", default = "16:9" }\n',
            {},
            "aspect_ratio.field",
            "the schema must list the values of 'free'",
        ),
        (
            'inputs = { count = "image" }\n',
            {},
            "inputs",
            "input field 'count' holds a URL, but the schema gives it type 'integer'",
        ),
        (
            "",
            {"examples": [{"image_url": "not a url"}]},
            "request_schema",
            "its example 0 is refused by the gateway: image_url must be an absolute http(s)",
        ),
        ("duration = 1e-9\n", {}, "duration", "must be from 0.04 to 600 seconds"),
    ],
)
def test_a_declaration_the_gateway_would_read_otherwise_than_its_schema_is_refused(
    tmp_path: Path, extra: str, schema_change: dict[str, object], key: str, detail: str
) -> None:
    text = BASE + extra
    if extra.startswith("inputs"):
        text = text.replace('inputs = { image_url = "image" }\n', "")
    path = declare(tmp_path, text, schema={**AGREE, **schema_change})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"key 'models[0].{key}'" in message
    assert detail in message


def test_an_image_is_priced_per_request_only(tmp_path: Path) -> None:
    text = GOOD.replace('output = "video"', 'output = "image"').replace(
        'duration = { field = "duration", default = 5 }\n', ""
    )
    path = declare(tmp_path, text.replace('per = "request"', 'per = "output_second"'))
    with pytest.raises(ConfigError, match=r"models\[0\]\.per.*price it per = \"request\""):
        load_config(path)


def test_a_new_model_given_a_price_without_per_is_priced_per_request(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('[[models]]\nid = "other"\noperation = "other-request"\nprice = "0.5"\n')
    spec = model_of(path, "other")
    assert spec.per is Per.REQUEST
    assert spec.price == Decimal("0.5")
