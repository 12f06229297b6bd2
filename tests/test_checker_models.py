"""The checker judges a client against the model it called: the declarations of
``examples/models.toml`` (an image-to-video and a text-to-image model priced per request, a
text-to-speech model priced per output second) beside the built-in OmniHuman v1.5.

The clients are the example Python client (tests/clients/client.py) run by ``run_check`` against
a served gateway over loopback, aimed at a model with ``model=`` (MOCKGATEWAY_GENERATE_URL) and
given that model's body with ``--body``. The bill is compared with what the gateway says each job
ended as.
"""

from __future__ import annotations

import json
import sys
import tomllib
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mockgateway import GatewayConfig, config_from_mapping, serve_in_thread
from mockgateway.checker import CheckerSettings, Verdict
from mockgateway.checker._run import CheckSetup, run_check

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples" / "models.toml"
PY = [sys.executable, str(Path(__file__).parent / "clients" / "client.py")]
OMNIHUMAN_BODY = {
    "image_url": "https://example.test/face.png",
    "audio_url": "https://example.test/voice.mp3",
}
BODIES: dict[str, dict[str, Any]] = {
    "acme-image-to-video-v2": {
        "image_url": "https://example.test/portrait.png",
        "prompt": "she turns to the camera and smiles",
        "duration": 5,
    },
    "acme-text-to-image-v1": {"prompt": "a lighthouse at dusk, oil painting"},
    "acme-text-to-speech-v1": {"text": "Your order has shipped.", "duration_seconds": 3},
}
# Each careless body for a model, and the one finding it draws, named as the verdict says it.
CARELESS: list[tuple[str, dict[str, Any], str, str]] = [
    # the image-to-video schema forbids other fields: an extra one is a schema error (a 400)
    (
        "acme-image-to-video-v2",
        {**BODIES["acme-image-to-video-v2"], "seed": 7},
        "generate-body-schema",
        "generate body for acme-image-to-video-v2 breaks its request schema: at $: Additional "
        "properties are not allowed ('seed' was unexpected)",
    ),
    (
        "acme-image-to-video-v2",
        {"image_url": "https://example.test/portrait.png"},
        "generate-body-schema",
        "generate body for acme-image-to-video-v2 breaks its request schema: at $: 'prompt' is "
        "a required property",
    ),
    (
        "acme-image-to-video-v2",
        {**BODIES["acme-image-to-video-v2"], "duration": 7},
        "generate-body-schema",
        "generate body for acme-image-to-video-v2 breaks its request schema: at $.duration: 7 "
        "is not one of [5, 10]",
    ),
    (
        "acme-text-to-image-v1",
        {"prompt": "a lighthouse", "negative_prompt": "fog"},
        "generate-undocumented-field",
        "generate body for acme-text-to-image-v1 carries field(s) its request schema does not "
        "document: negative_prompt",
    ),
    (  # a body meant for OmniHuman, sent to the text-to-image model
        "acme-text-to-image-v1",
        OMNIHUMAN_BODY,
        "generate-body-schema",
        "generate body for acme-text-to-image-v1 breaks its request schema: at $: 'prompt' is "
        "a required property",
    ),
    (
        "acme-text-to-speech-v1",
        {"prompt": "Your order has shipped."},  # the text-to-image model's field name
        "generate-body-schema",
        "generate body for acme-text-to-speech-v1 breaks its request schema: at $: 'text' is "
        "a required property",
    ),
    (
        "acme-text-to-speech-v1",
        {**BODIES["acme-text-to-speech-v1"], "speed": 1.5},
        "generate-undocumented-field",
        "generate body for acme-text-to-speech-v1 carries field(s) its request schema does not "
        "document: speed",
    ),
]
# A body meant for one model sent to another breaks the schema and, where the schema lets other
# fields through, draws undocumented-field warnings for the strays too.
ALSO = {
    ("acme-text-to-image-v1", "generate-body-schema"): {"generate-undocumented-field"},
    ("acme-text-to-speech-v1", "generate-body-schema"): {"generate-undocumented-field"},
}


def models_config(**lifecycle: float) -> GatewayConfig:
    """``examples/models.toml`` as the gateway runs it, with a clock a test can wait for; a job
    waits 10 s in the queue, so a client polling every second polls it several times."""
    data = tomllib.loads(EXAMPLES.read_text())
    data["lifecycle"] = {"queue_seconds": 10, "processing_seconds": 2, **lifecycle}
    data["media"] = {"mode": "sample"}
    return config_from_mapping(data, str(EXAMPLES), EXAMPLES.parent)


SETUP = CheckSetup(gateway=models_config(), checker=CheckerSettings())


def judge(model: str, body: dict[str, Any], *args: str) -> Verdict:
    command = [*PY, "--body", json.dumps(body), *args]
    verdict, _ = run_check(command, setup=SETUP, speed=50, timeout=60, model=model)
    return verdict


def ended(verdict: Verdict) -> str | None:
    (job,) = verdict.cost.jobs
    return job.status


@pytest.mark.parametrize("model", sorted(BODIES))
def test_a_careful_client_of_each_model_keeps_every_rule(model: str) -> None:
    verdict = judge(model, BODIES[model])
    assert verdict.violations == (), verdict.violations
    assert verdict.contract_passed
    assert ended(verdict) == "COMPLETED"
    assert verdict.client_run is not None
    assert verdict.client_run.exit_code == 0


@pytest.mark.parametrize(
    ("model", "body", "rule", "message"), CARELESS, ids=[f"{c[0]}-{c[2]}" for c in CARELESS]
)
def test_a_careless_body_for_each_model_draws_its_finding(
    model: str, body: dict[str, Any], rule: str, message: str
) -> None:
    verdict = judge(model, body)
    expected = {rule} | ALSO.get((model, rule), set())
    assert set(verdict.broken_rules) == expected, verdict.violations
    assert [v.message for v in verdict.result(rule).violations] == [message]


@pytest.mark.parametrize("model", sorted(BODIES))
def test_a_client_of_each_model_polling_too_fast_is_caught(model: str) -> None:
    verdict = judge(model, BODIES[model], "--careless", "poll-interval")
    assert verdict.broken_rules == ("poll-interval",), verdict.violations


@pytest.mark.parametrize("model", sorted(BODIES))
def test_a_client_calling_a_model_the_gateway_does_not_serve_is_told_so(model: str) -> None:
    verdict = judge(model, BODIES[model], "--careless", "generate-model")
    assert verdict.broken_rules == ("generate-model",)
    (v,) = verdict.result("generate-model").violations
    served = "acme-image-to-video-v2, acme-text-to-image-v1, acme-text-to-speech-v1, " + (
        "bytedance-omnihuman-v1-5-290"
    )
    assert v.message == (
        f"generate request to /{model}-preview/v1/{model}-request: no model "
        f"'{model}-preview' is declared here (served: {served})"
    )


def test_the_same_body_is_judged_by_the_model_each_request_calls() -> None:
    """A prompt is documented for the models that declare one and not for OmniHuman."""
    body = {**OMNIHUMAN_BODY, "prompt": "a friendly smile"}
    verdict = judge("bytedance-omnihuman-v1-5-290", body)
    assert verdict.broken_rules == ("generate-undocumented-field",)
    (v,) = verdict.violations
    assert v.message.startswith("generate body for bytedance-omnihuman-v1-5-290 carries")
    assert v.message.endswith("document: prompt")
    assert judge("acme-text-to-image-v1", {"prompt": "a friendly smile"}).violations == ()


@pytest.mark.parametrize(
    ("model", "price"),
    [("acme-image-to-video-v2", Decimal("0.35")), ("acme-text-to-image-v1", Decimal("0.04"))],
)
def test_a_model_priced_per_request_bills_its_price_and_no_seconds(
    model: str, price: Decimal
) -> None:
    verdict = judge(model, BODIES[model])
    (job,) = verdict.cost.jobs
    assert (job.model_id, job.per, job.billed_seconds) == (model, "request", 0)
    assert job.status == "COMPLETED"
    assert job.usd == price
    assert verdict.cost.describe() == (
        f"{price:.2f} USD: 1 per-request charge(s), 1 of 1 job(s) charged (COMPLETED 1)"
    )
    data = verdict.to_dict()["cost"]
    assert (data["per_request_jobs"], data["per_request_usd"]) == (1, f"{price:.2f}")
    assert data["per_job"][0]["per"] == "request"


def test_the_text_to_speech_model_bills_its_seconds_of_audio() -> None:
    verdict = judge("acme-text-to-speech-v1", BODIES["acme-text-to-speech-v1"])
    (job,) = verdict.cost.jobs
    assert (job.model_id, job.per) == ("acme-text-to-speech-v1", "output_second")
    assert job.status == "COMPLETED"
    assert (job.billed_seconds, job.usd) == (3, Decimal("0.015") * 3)


# A model declared like OmniHuman (its request schema, inputs and renderer) but priced per
# request, run beside a model priced per second.
FLAT = {
    "id": "lipsync-flat",
    "operation": "lipsync-flat-request",
    "price": "0.30",
    "per": "request",
}


def test_per_request_and_per_second_jobs_add_up_in_one_run(tmp_path: Path) -> None:
    script = tmp_path / "both.sh"
    body = json.dumps(OMNIHUMAN_BODY)
    script.write_text(
        f"set -e\n{sys.executable} {PY[1]} --body '{body}'\n"
        f'MOCKGATEWAY_GENERATE_URL="$MOCKGATEWAY_URL/lipsync-flat/v1/lipsync-flat-request" '
        f"{sys.executable} {PY[1]} --body '{body}'\n"
    )
    config = config_from_mapping({"models": [FLAT], "lifecycle": {"processing_seconds": 2}})
    setup = CheckSetup(gateway=config, checker=CheckerSettings())
    verdict, _ = run_check(["sh", str(script)], setup=setup, speed=50, timeout=60)
    assert verdict.passed, verdict.violations
    by_model = {j.model_id: j for j in verdict.cost.jobs}
    flat, omni = by_model["lipsync-flat"], by_model["bytedance-omnihuman-v1-5-290"]
    assert (flat.per, flat.billed_seconds, flat.usd) == ("request", 0, Decimal("0.30"))
    assert omni.per == "output_second"
    assert omni.billed_seconds > 0
    assert omni.usd == Decimal("0.16") * omni.billed_seconds
    total = Decimal("0.30") + omni.usd
    assert verdict.cost.describe() == (
        f"{total:.2f} USD: {omni.billed_seconds} billed second(s) for {omni.usd:.2f} USD, "
        "1 per-request charge(s) for 0.30 USD, 2 of 2 job(s) charged (COMPLETED 2)"
    )


def test_a_running_gateway_judges_its_journal_by_its_own_models() -> None:
    """``GET /_mock/verdict`` reads the models the gateway serves, declared ones included."""
    with serve_in_thread(models_config()) as gw:
        url = f"{gw.url}/acme-text-to-image-v1/v1/acme-text-to-image-v1-request"
        body = json.dumps({"prompt": "a lighthouse", "seed": 7}).encode()
        headers = {"Content-Type": "application/json", "Cache-Control": "no-cache",
                   "Ocp-Apim-Subscription-Key": "k-0001"}  # fmt: skip
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=10) as r:
            assert r.status == 202
        with urllib.request.urlopen(f"{gw.url}/_mock/verdict", timeout=10) as r:
            verdict = json.load(r)
    rules = {r["id"]: r for r in verdict["rules"]}
    assert rules["generate-model"]["passed"]
    assert rules["generate-body-schema"]["passed"]
    (v,) = rules["generate-undocumented-field"]["violations"]
    assert v["message"].endswith("acme-text-to-image-v1 carries field(s) its request schema does "
                                 "not document: seed")  # fmt: skip
