"""Render speed and gateway responsiveness while rendering, side by side.

Part 1 renders 10 s of speech-like audio over a 16:9 portrait at 480p, 720p and 1080p with
``render_mp4`` directly (the worker's own time), with the default encoder (one x264 P-frame per
loudness level, reused) beside x264 encoding every frame. Goal: 1080p in at most 1 s.

Part 2 starts a real gateway (``python -m mockgateway serve``) in its own process for each render
executor and polls a job's status back to back from this process, first with no render running
(the baseline), then while the gateway renders fresh 10 s 1080p jobs one after another.
Goal: p99 poll latency under 20 ms while rendering. Inputs come from a loopback file server here.

    python bench/bench_render.py [--repeat 3] [--poll-seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockgateway.media._render import render_mp4
from mockgateway.media._synth import encode_audio, encode_image, portrait, speech

KEY = "bench-key-0001"
GENERATE = "/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request"
RATE = 22050


def inputs(seconds: float = 10.0, seed: int = 7) -> tuple[bytes, bytes]:
    image = encode_image(portrait(1920, 1080), "png")
    audio = encode_audio(speech(seconds, RATE, seed=seed), RATE, "mp3", bitrate=64000)
    return image, audio


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bench_render(repeat: int) -> None:
    image, audio = inputs()
    render_mp4(image, audio, "480p")  # warm up codecs and caches
    rows = [(r, e) for e in (False, True) for r in ("480p", "720p", "1080p")]
    wall: dict[tuple[str, bool], list[float]] = {row: [] for row in rows}
    cpu: dict[tuple[str, bool], list[float]] = {row: [] for row in rows}
    sizes: dict[tuple[str, bool], int] = {}
    load = os.getloadavg()[0]
    for _ in range(repeat):  # interleaved rounds, so load from elsewhere hits every row
        for resolution, every_frame in rows:
            start, start_cpu = time.perf_counter(), _cpu()
            data = render_mp4(image, audio, resolution, every_frame=every_frame)
            wall[(resolution, every_frame)].append(time.perf_counter() - start)
            cpu[(resolution, every_frame)].append(_cpu() - start_cpu)
            sizes[(resolution, every_frame)] = len(data)
    print(
        f"part 1: render_mp4, 10 s of MP3 audio over a 1920x1080 PNG, {repeat} interleaved "
        f"rounds; load average {load:.2f} at start on {os.cpu_count()} cores"
    )
    print(
        f"{'encoder':>24} {'resolution':>10} {'output':>9} {'wall median':>12} "
        f"{'wall best':>10} {'cpu median':>11} {'x real time':>12}"
    )
    for resolution, every_frame in rows:
        row = (resolution, every_frame)
        median = statistics.median(wall[row])
        label = "x264 every frame" if every_frame else "level P-frames (default)"
        print(
            f"{label:>24} {resolution:>10} {sizes[row] / 1e6:>7.2f}MB {median:>11.3f}s "
            f"{min(wall[row]):>9.3f}s {statistics.median(cpu[row]):>10.3f}s "
            f"{10.0 / median:>11.1f}x"
        )
    print("goal: 1080p in at most 1.000 s (wall)")


@contextlib.contextmanager
def gateway(executor: str) -> Iterator[str]:
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as config:
        config.write(
            "[lifecycle]\nqueue_seconds = 0\nprocessing_seconds = 0\n"
            '[keys]\ndefault_balance = "100000"\n'
            f'[media]\nexecutor = "{executor}"\ncache_entries = 0\n'
        )
    process = subprocess.Popen(
        [sys.executable, "-m", "mockgateway", "serve", "--port", "0", "--config", config.name],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        os.unlink(config.name)


async def poll_while_rendering(executor: str, seconds: float, renders: bool) -> dict[str, float]:
    import aiohttp
    from aiohttp import web

    audios = [inputs(seed=seed)[1] for seed in range(1, 6)]
    image = encode_image(portrait(1920, 1080), "png")
    files = {f"/a{i}.mp3": audio for i, audio in enumerate(audios)}
    files["/face.png"] = image

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=files[request.path])

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    files_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    headers = {"Ocp-Apim-Subscription-Key": KEY}
    latencies: list[float] = []
    completed = 0
    try:
        with gateway(executor) as url:
            async with aiohttp.ClientSession(headers=headers) as session:

                async def submit(i: int) -> str:
                    body = {
                        "image_url": f"{files_url}/face.png",
                        "audio_url": f"{files_url}/a{i % len(audios)}.mp3",
                        "resolution": "1080p",
                    }
                    async with session.post(url + GENERATE, json=body) as response:
                        assert response.status == 202, await response.text()
                        return str((await response.json())["request_id"])

                async def status(request_id: str) -> dict[str, object]:
                    async with session.get(f"{url}/v2/requests/status/{request_id}") as response:
                        result: dict[str, object] = await response.json()
                        return result

                probe_id = await submit(0)  # the first job also starts the render workers
                for _ in range(600):
                    if (await status(probe_id))["status"] in ("COMPLETED", "FAILED", "ERROR"):
                        break
                    await asyncio.sleep(0.05)
                # two jobs in flight keep the single render worker busy the whole time
                pending = [await submit(1), await submit(2)] if renders else [probe_id]
                submitted = 3
                stop = time.perf_counter() + seconds
                while time.perf_counter() < stop:
                    for slot, request_id in enumerate(pending):
                        start = time.perf_counter()
                        body = await status(request_id)
                        latencies.append(time.perf_counter() - start)
                        if renders and body["status"] in ("COMPLETED", "FAILED", "ERROR"):
                            assert body["status"] == "COMPLETED", body
                            completed += 1
                            pending[slot] = await submit(submitted)
                            submitted += 1
                        await asyncio.sleep(0.002)
    finally:
        await runner.cleanup()
    latencies.sort()
    return {
        "polls": len(latencies),
        "p50": latencies[len(latencies) // 2] * 1000,
        "p99": latencies[int(len(latencies) * 0.99)] * 1000,
        "max": latencies[-1] * 1000,
        "renders": completed,
    }


def bench_polls(seconds: float) -> None:
    print()
    print(f"part 2: status polls against a served gateway, {seconds:g} s each, 10 s jobs at 1080p")
    print(f"{'':>28} {'polls':>6} {'p50':>8} {'p99':>8} {'max':>8} {'renders done':>13}")
    rows = [
        ("idle (no render running)", "process", False),
        ("rendering, process pool", "process", True),
        ("rendering, thread pool", "thread", True),
    ]
    for label, executor, renders in rows:
        r = asyncio.run(poll_while_rendering(executor, seconds, renders))
        print(
            f"{label:>28} {r['polls']:>6.0f} {r['p50']:>6.2f}ms {r['p99']:>6.2f}ms "
            f"{r['max']:>6.2f}ms {r['renders']:>13.0f}"
        )
    print("goal: p99 under 20 ms while rendering")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--poll-seconds", type=float, default=4.0)
    parser.add_argument("--skip-polls", action="store_true")
    parser.add_argument("--skip-render", action="store_true")
    args = parser.parse_args()
    if not args.skip_render:
        bench_render(args.repeat)
    if not args.skip_polls:
        bench_polls(args.poll_seconds)


if __name__ == "__main__":
    main()
