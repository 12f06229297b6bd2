"""The suite's command-line options and marker, registered with pytest at start-up.

An installed mockgateway registers this module through the ``pytest11`` entry point, so the options
exist before ``--pyargs mockgateway.contract_tests`` is resolved (a package's own conftest is loaded
too late to add options). Only the options and the marker live here; the fixtures are in the
package's conftest and touch nothing outside it. Pytest loads this module in every run on a machine
where mockgateway is installed, so it imports nothing but pytest, and every option starts with
``--mockgateway-`` so it cannot clash with a project's own.
"""

from __future__ import annotations

import pytest

DOC_MODEL_ID = "bytedance-omnihuman-v1-5-290"
DOC_IMAGE_URL = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png"
)
DOC_AUDIO_URL = (
    "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gateway", "provider contract suite (contract_tests)")
    group.addoption(
        "--mockgateway-gateway-url", metavar="URL", help="base URL of the gateway under test"
    )
    group.addoption(
        "--mockgateway-gateway-api-key", metavar="KEY", help="Ocp-Apim-Subscription-Key to send"
    )
    group.addoption(
        "--mockgateway-gateway-allow-billable",
        action="store_true",
        default=False,
        help="also run checks that submit jobs (they cost money on a real gateway)",
    )
    group.addoption(
        "--mockgateway-gateway-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for a job to reach a terminal status (default 600)",
    )
    group.addoption(
        "--mockgateway-gateway-poll-interval",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between status polls; the doc asks for 5-10 (default 5)",
    )
    group.addoption(
        "--mockgateway-gateway-request-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="timeout of each HTTP request (default 30)",
    )
    group.addoption(
        "--mockgateway-gateway-model",
        default=DOC_MODEL_ID,
        metavar="ID",
        help="the model to check: its generate path and a body from its request schema's "
        "examples (default: the doc's OmniHuman v1.5)",
    )
    group.addoption(
        "--mockgateway-gateway-operation",
        default=None,
        help="operation in the generate path (default: the model's, from the document)",
    )
    group.addoption(
        "--mockgateway-gateway-openapi",
        default=None,
        metavar="URL_OR_FILE",
        help="the OpenAPI document describing the model (default: the built-in one for the "
        "doc's model, else the gateway's URL/_mock/openapi.json)",
    )
    group.addoption(
        "--mockgateway-gateway-operator-token",
        default=None,
        metavar="TOKEN",
        help="sent as 'Authorization: Bearer TOKEN' when the document is fetched from the "
        "gateway's /_mock/openapi.json (a mockgateway with [server] operator_token set)",
    )
    group.addoption(
        "--mockgateway-gateway-image-url",
        default=DOC_IMAGE_URL,
        help="URL sent in the body's image inputs",
    )
    group.addoption(
        "--mockgateway-gateway-audio-url",
        default=DOC_AUDIO_URL,
        help="URL sent in the body's audio inputs",
    )
    group.addoption(
        "--mockgateway-gateway-resolution",
        default=None,
        help="resolution to submit, for a model with a resolution field (default: the example's)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "billable: submits a job, which costs money on a real gateway; "
        "runs only with --mockgateway-gateway-allow-billable",
    )
