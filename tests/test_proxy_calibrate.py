"""Calibration end to end: record a few hundred jobs from an upstream with known delays and
outcome rates, fit a profile, serve it, record again, and compare the two services."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import statistics
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

import aiohttp

from mockgateway.proxy import load_recordings
from tests.proxy_support import GENERATE_PATH, KEY, ROOT, proxy, session, upstream, wait_for

# Delays of tens of gateway seconds: a scheduler a few real milliseconds late under load is then
# a few hundredths of the delay, not a fifth of it.
SPEED = 100
JOBS = 240
POLL_EVERY = 8.0  # gateway seconds
BASE = f"""
[clock]
mode = "scaled"
speed = {SPEED}
[server]
max_body_bytes = 262144
[media]
mode = "sample"
executor = "thread"  # probes in parallel threads, not queued behind one worker process
[keys]
default_balance = "100000.00"
"""
MODEL = "bytedance-omnihuman-v1-5-290"
TRUTH = (
    BASE
    + f"""
[delays.models."{MODEL}".resolutions."480p"]
queue = {{ kind = "lognormal", mu = 2.996, sigma = 0.25 }}
processing = {{ kind = "uniform", low = 25, high = 35 }}
processing_per_output_second = 5.0

[delays.models."{MODEL}".resolutions."720p"]
queue = {{ kind = "normal", mean = 15, stddev = 2.5 }}
processing = {{ kind = "lognormal", mu = 3.689, sigma = 0.2 }}

[[faults]]
name = "no-face"
action = "fail"
route = "generate"
probability = 0.12
message = "image_url: no face found in the image"

[[faults]]
name = "system"
action = "error"
route = "generate"
probability = 0.06
message = "Internal system error."

[[faults]]
name = "burst"
action = "http_error"
status = 429
route = "generate"
probability = 0.1
retry_after = 3
"""
)


def _wav(seconds: int) -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(bytes(128 + int(60 * math.sin(i / 7)) for i in range(8000 * seconds)))
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


AUDIO = {s: _wav(s) for s in range(1, 7)}


async def _one(http: aiohttp.ClientSession, base: str, i: int, gate: asyncio.Semaphore) -> None:
    body = {
        "image_url": "https://example.com/portrait.png",
        "audio_url": AUDIO[1 + i % 6],
        "resolution": "720p" if i % 3 == 2 else "480p",
    }
    headers = {"Ocp-Apim-Subscription-Key": KEY, "Cache-Control": "no-cache"}
    async with gate:
        while True:
            async with http.post(base + GENERATE_PATH, json=body, headers=headers) as answer:
                if answer.status == 429:
                    await asyncio.sleep(int(answer.headers["Retry-After"]) / SPEED)
                    continue
                assert answer.status == 202, await answer.text()
                polling_url = (await answer.json())["polling_url"]
                break
        while True:
            await asyncio.sleep(POLL_EVERY / SPEED)
            async with http.get(polling_url, headers=headers) as answer:
                if (await answer.json())["status"] in ("COMPLETED", "FAILED", "ERROR"):
                    return


def _warm(base: str) -> None:
    """One job per input straight to the upstream, so its renders are cached and its threads
    started before the recorded run (a cold start is not what is being measured)."""
    s = session()
    for i in range(6):
        for resolution in ("480p", "720p"):
            body = {"image_url": "https://example.com/p.png", "audio_url": AUDIO[1 + i],
                    "resolution": resolution}  # fmt: skip
            accepted = s.post(base + GENERATE_PATH, json=body, timeout=30,
                              headers={"Ocp-Apim-Subscription-Key": "warm-up-key"})  # fmt: skip
            if accepted.status_code != 202:
                continue
            url = accepted.json()["polling_url"]
            job = wait_for(lambda url=url: (b := s.get(url, timeout=10, headers={  # type: ignore[misc]
                "Ocp-Apim-Subscription-Key": "warm-up-key"}).json())["status"] in (
                "COMPLETED", "FAILED", "ERROR") and b)  # fmt: skip
            if job["status"] == "COMPLETED":
                s.get(job["output"]["media_url"][0], timeout=30)
    s.post(base + "/_mock/reset", timeout=10)


def _record(tmp: Path, config: str, name: str) -> Path:
    har = tmp / f"{name}.har"
    with upstream(tmp, config) as up:
        _warm(up.url)
        return _record_from(up.url, har)


def _record_from(upstream_url: str, har: Path) -> Path:
    with proxy(upstream_url, "--allow-billable", "--record", str(har)) as px:

        async def drive() -> None:
            gate = asyncio.Semaphore(30)
            async with aiohttp.ClientSession(trust_env=False) as http:
                await asyncio.gather(*(_one(http, px.url, i, gate) for i in range(JOBS)))

        asyncio.run(drive())
        s = session()
        wait_for(lambda: s.get(px.url + "/_mock/spend", timeout=5).json()["unpriced"] == 0, 60)
        code, _, err = px.stop()
    assert code == 0, err
    return har


def _summary(har: Path) -> dict[str, Any]:
    rec = load_recordings([json.loads(har.read_text())])
    out: dict[str, Any] = {}
    for res in ("480p", "720p"):
        jobs = [j for j in rec.jobs if j.resolution == res]
        out[f"queue {res}"] = statistics.median(j.queue for j in jobs if j.queue is not None)
        out[f"processing {res}"] = statistics.median(
            j.processing for j in jobs if j.status == "COMPLETED" and j.processing is not None
        )
    ended = [j for j in rec.jobs if j.status in ("COMPLETED", "FAILED", "ERROR")]
    assert len(ended) == JOBS
    out["FAILED"] = sum(j.status == "FAILED" for j in ended) / len(ended)
    out["ERROR"] = sum(j.status == "ERROR" for j in ended) / len(ended)
    generates = rec.answers["generate"]
    out["429"] = generates.count(429) / len(generates)
    return out


def test_a_calibrated_profile_reproduces_the_recorded_service(tmp_path: Path) -> None:
    recorded = _record(tmp_path, TRUTH, "truth")
    fitted = subprocess.run(
        [sys.executable, "-m", "mockgateway", "calibrate", str(recorded)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert fitted.returncode == 0, fitted.stderr
    profile = fitted.stdout
    (tmp_path / "profile.toml").write_text(profile)
    # the fit found the processing time growing with the output's length at 480p only
    slope_480 = profile.split('resolutions."480p"]')[1].split("[")[0]
    assert "processing_per_output_second" in slope_480
    per_second = float(slope_480.split("processing_per_output_second = ")[1].split()[0])
    assert 4.0 <= per_second <= 6.0
    assert "processing_per_output_second" not in profile.split('resolutions."720p"]')[1]
    assert 'message = "image_url: no face found in the image"' in profile
    assert "retry_after = 3" in profile
    quality = fitted.stderr
    assert f"queue {MODEL} 480p: n=" in quality
    assert "median recorded" in quality
    assert "p90 recorded" in quality
    assert "429 on generate:" in quality
    replayed = _record(tmp_path, BASE + profile, "replay")
    want, got = _summary(recorded), _summary(replayed)
    for name in ("queue 480p", "processing 480p", "queue 720p", "processing 720p"):
        assert abs(got[name] - want[name]) <= 0.2 * want[name], (name, want, got)
    for name in ("FAILED", "ERROR", "429"):
        assert abs(got[name] - want[name]) <= 0.05, (name, want, got)
    assert 0.07 <= want["FAILED"] <= 0.17  # the upstream's 12 %
    assert 0.02 <= want["ERROR"] <= 0.10  # and 6 %
