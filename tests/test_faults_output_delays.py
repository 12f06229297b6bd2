"""Delays per resolution and processing that grows with the output's length (the scenario
format's [delays.resolutions] and processing_per_output_second, which calibrate writes)."""

from __future__ import annotations

import pytest

from mockgateway import ConfigError
from mockgateway.faults import faults_from_mapping, faults_from_toml

from .faults_support import scenario_config, seconds_between
from .support import DOC_BODY, served

MODEL = "bytedance-omnihuman-v1-5-290"


def test_the_most_specific_table_gives_each_delay() -> None:
    delays = faults_from_mapping(
        {
            "delays": {
                "queue": 1,
                "processing": 2,
                "resolutions": {"480p": {"queue": 3}},
                "models": {
                    "m": {
                        "processing": 4,
                        "resolutions": {
                            "480p": {"processing": 5, "processing_per_output_second": 0.5}
                        },
                    }
                },
            }
        },
        "test",
    ).delays
    assert delays.for_model("m", "processing", "480p").seconds == 5  # type: ignore[union-attr]
    assert delays.for_model("m", "queue", "480p").seconds == 3  # type: ignore[union-attr]
    assert delays.for_model("m", "processing", "720p").seconds == 4  # type: ignore[union-attr]
    assert delays.for_model("x", "queue", "480p").seconds == 3  # type: ignore[union-attr]
    assert delays.for_model("x", "queue", "720p").seconds == 1  # type: ignore[union-attr]
    assert delays.per_output_second("m", "480p") == 0.5
    assert delays.per_output_second("m", "720p") == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '[delays.resolutions."4k"]\nqueue = 1',
            "key 'delays.resolutions.4k' in profile.toml: is not a resolution",
        ),
        (
            "[delays]\nprocessing_per_output_second = -1",
            "key 'delays.processing_per_output_second'",
        ),
        (
            '[delays.models.m.resolutions."480p"]\nspeed = 1',
            "key 'delays.models.m.resolutions.480p.speed' in profile.toml: unknown key",
        ),
    ],
)
def test_bad_tables_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        faults_from_toml(text, "profile.toml")
    assert message in str(caught.value)


async def test_processing_takes_longer_per_second_of_output() -> None:
    delays = {
        "queue": 1,
        "models": {MODEL: {"resolutions": {"1080p": {"processing": 2,
                                                    "processing_per_output_second": 1.0}}}},
    }  # fmt: skip
    async with served(scenario_config(delays=delays)) as (gw, client):
        rid = (await client.generate(DOC_BODY)).body["request_id"]  # the 3 s bundled speech
        await gw.advance(5.9)
        assert (await client.status(rid)).body["status"] == "PROCESSING"
        await gw.advance(0.1)
        done = (await client.status(rid)).body
        assert done["status"] == "COMPLETED"
        assert seconds_between(done["created_at"], done["completed_at"]) == 6.0


async def test_another_resolution_keeps_the_plain_duration() -> None:
    delays = {"resolutions": {"480p": {"processing": 9}}}
    async with served(scenario_config(delays=delays)) as (gw, client):
        rid = (await client.generate(DOC_BODY)).body["request_id"]  # 1080p
        await gw.advance(3)
        assert (await client.status(rid)).body["status"] == "COMPLETED"
