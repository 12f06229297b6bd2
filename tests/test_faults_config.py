"""The scenario file: validated at start (exit 2 naming key and file), and the documented complete
example, taken from docs/scenarios.md, loads and behaves as documented."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import tomllib
import urllib.error
import urllib.request
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from mockgateway import ConfigError, ManualClock, config_from_mapping, load_config
from mockgateway.faults import Break, BreakKind
from tests.support import serve_config

from .faults_support import START, eventually
from .support import DOC_BODY, GENERATE_PATH, RunningGateway, memory_of, served
from .test_cli import start

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "scenarios.md"
EXAMPLE = ROOT / "examples" / "scenario.toml"
T = TypeVar("T")

BAD_FILES = [
    ('[[faults]]\naction = "http_error"\nstatus = 418\n', "faults[0].status", "418"),
    ('[[faults]]\naction = "explode"\n', "faults[0].action", "'explode'"),
    ('[[faults]]\naction = "reset"\nroute = "webhook"\n', "faults[0].route", "generate"),
    (
        '[[faults]]\naction = "latency"\nseconds = 1\ncolour = "red"\n',
        "faults[0].colour",
        "unknown",
    ),
    ('[[faults]]\naction = "truncate"\nfraction = 1.5\n', "faults[0].fraction", "below 1"),
    ('[[faults]]\naction = "fail"\nat = "completed"\n', "faults[0].at", "'completed'"),
    ('[delays]\nqueue = { kind = "gamma", seconds = 1 }\n', "delays.queue.kind", "'gamma'"),
    (
        '[delays]\nprocessing = { kind = "uniform", low = 3, high = 1 }\n',
        "delays.processing.high",
        "low",
    ),
    ("[scenario]\ntime_scale = -1\n", "scenario.time_scale", "at least"),
    ("[rate_limits.generate]\nburst = 2\n", "rate_limits.generate.rate", "required"),
    ("[rate_limits]\nconcurrent_jobs = 'two'\n", "rate_limits.concurrent_jobs", "integer"),
]


@pytest.mark.parametrize(("text", "key", "detail"), BAD_FILES, ids=[k for _, k, _ in BAD_FILES])
def test_bad_scenario_file_stops_the_cli_with_exit_2_naming_key_and_file(
    tmp_path: Path, text: str, key: str, detail: str
) -> None:
    path = tmp_path / "my-scenario.toml"
    path.write_text(text)
    result = serve_config(path)
    assert result.returncode == 2, result.stderr
    assert f"key '{key}'" in result.stderr
    assert str(path) in result.stderr
    assert detail in result.stderr
    assert "Traceback" not in result.stderr
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(path)  # the in-process API gives the same error


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)


def test_the_docs_complete_example_is_the_example_file() -> None:
    text = DOCS.read_text(encoding="utf-8")
    complete = text.split("## Complete example", 1)[1]
    block = re.search(r"```toml\n(.*?)```", complete, re.S)
    assert block is not None
    assert block.group(1) == EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.parametrize("index", range(len(toml_blocks())))
def test_every_toml_block_in_the_docs_is_a_valid_config(index: int) -> None:
    data = tomllib.loads(toml_blocks()[index])
    assert set(data) & {"scenario", "delays", "faults", "rate_limits"}
    config_from_mapping(data, f"docs block {index}")  # raises ConfigError if the docs are wrong


def test_the_complete_example_says_what_it_claims() -> None:
    config = load_config(EXAMPLE)
    faults = config.faults
    assert faults.scenario.seed == 42
    assert faults.delays.default.response is not None
    assert dict(faults.rate_limits.routes)["generate"].burst == 3
    assert faults.rate_limits.concurrent_jobs == 4
    by_name = {rule.name: rule for rule in faults.rules}
    assert by_name["media trickles in"].action == Break(
        kind=BreakKind.DRIBBLE, seconds=3, chunks=12
    )
    assert (
        by_name["flaky: the first generate is processed, then the connection resets"].scenario
        == "flaky"
    )


async def answered(gw: RunningGateway, pending: Awaitable[T]) -> T:
    """Move the manual clock in small steps until a (latency-delayed) answer arrives."""
    task = asyncio.ensure_future(pending)
    while not task.done():
        await gw.advance(0.05)
        try:
            await eventually(task.done, timeout=0.01)
        except AssertionError:
            continue
    return task.result()


async def test_the_complete_example_runs_as_documented() -> None:
    config = load_config(EXAMPLE).with_(
        clock=config_from_mapping({"clock": {"mode": "manual"}}).clock
    )
    async with served(config, clock=ManualClock(START)) as (gw, client):
        # generate: a burst of 3 per key, then 429 with a Retry-After equal to the body's seconds
        statuses = [(await answered(gw, client.generate())).status for _ in range(3)]
        assert statuses == [202, 202, 202]
        limited = await answered(gw, client.generate())
        assert limited.status == 429
        assert limited.body["message"] == (
            f"Rate limit is exceeded. Try again in {limited.headers['Retry-After']} seconds."
        )
        # scenario "flaky": the first generate is processed, but the client sees a reset
        async with aiohttp.ClientSession() as session:
            post = session.post(
                gw.url + GENERATE_PATH,
                data=json.dumps(DOC_BODY),
                headers={
                    "Content-Type": "application/json",
                    "Ocp-Apim-Subscription-Key": "mock-flaky",
                },
            )
            with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
                await answered(gw, post)
        assert sum(1 for job in memory_of(gw.gateway).jobs.values() if job.key == "mock-flaky") == 1


def test_the_cli_serves_the_example_file() -> None:
    process, url = start("--config", str(EXAMPLE))
    try:
        request = urllib.request.Request(
            url + GENERATE_PATH,
            data=json.dumps(DOC_BODY).encode(),
            headers={"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": "mock-402"},
        )
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=10)
        assert caught.value.code == 402
        with urllib.request.urlopen(url + "/_mock/scenario", timeout=10) as response:
            view = json.load(response)
        assert view["source"] == str(EXAMPLE)
        assert view["seed"] == 42
        assert "flaky" in view["scenarios"]
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0
