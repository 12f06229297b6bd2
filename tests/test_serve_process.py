"""The serving process as a user runs it: what it loads, how it stops, what it leaves behind."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from .support import DOC_BODY, GENERATE_PATH
from .test_cli import start

HEAVY = ("numpy", "av")


def _loaded(code: str) -> list[str]:
    """Which of :data:`HEAVY` (and aiohttp) a fresh interpreter has loaded after ``code``."""
    probe = (
        code
        + "\nimport sys\nprint(sorted(m for m in ('numpy', 'av', 'aiohttp') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    return list(json.loads(out.strip().splitlines()[-1].replace("'", '"')))


def test_the_command_line_module_loads_neither_the_server_nor_the_codecs() -> None:
    assert _loaded("import mockgateway._cli") == []


def test_the_serving_process_never_loads_numpy_or_pyav_even_while_rendering() -> None:
    """A job goes all the way to COMPLETED and its video is fetched: the work happened in the
    render workers, and the serving process still has not imported numpy or PyAV."""
    code = textwrap.dedent(
        f"""
        import json, urllib.request
        import mockgateway
        config = mockgateway.config_from_mapping({{"clock": {{"mode": "manual"}}}})
        with mockgateway.serve_in_thread(config) as gw:
            request = urllib.request.Request(
                gw.url + {GENERATE_PATH!r},
                data=json.dumps({DOC_BODY!r}).encode(),
                headers={{"Content-Type": "application/json",
                          "Ocp-Apim-Subscription-Key": "k-1234"}},
            )
            rid = json.load(urllib.request.urlopen(request, timeout=30))["request_id"]
            for _ in range(20):
                gw.advance(1)
                gw.settle()
                job = gw.run(lambda: gw.gateway.store.jobs[rid])
                if job.status.terminal:
                    break
            assert job.status.value == "COMPLETED", (job.status, job.error)
            media = urllib.request.urlopen(job.media_urls[0], timeout=30).read()
            assert media[4:8] == b"ftyp", media[:16]
        """
    )
    assert _loaded(code) == ["aiohttp"]


def _children(pid: int) -> set[int]:
    """Every live descendant of ``pid``, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _post(
    url: str, body: object, key: str | None = "k-1234", headers: dict[str, str] | None = None
) -> object:
    headers = {"Content-Type": "application/json", **(headers or {})}
    if key:
        headers["Ocp-Apim-Subscription-Key"] = key
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigkill_of_serve_leaves_no_worker_behind(tmp_path: Path) -> None:
    config = tmp_path / "manual.toml"
    config.write_text('[clock]\nmode = "manual"\n')
    process, url = start("--config", str(config))
    try:
        job = _post(url + GENERATE_PATH, DOC_BODY)
        assert isinstance(job, dict)
        _post(url + "/_mock/clock/advance", {"seconds": 5}, key=None)  # rendered in a worker
        with urllib.request.urlopen(f"{url}/_mock/jobs/{job['request_id']}", timeout=30) as r:
            assert json.load(r)["status"] == "COMPLETED"
        workers = _children(process.pid)
        assert workers, "no render worker was started"
    finally:
        process.kill()
        process.communicate(timeout=15)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in workers if _alive(pid)]


def test_sigterm_is_prompt_whatever_is_pending(tmp_path: Path) -> None:
    """An answer held on a manual clock, a webhook to a receiver that never answers, a connection
    dribbling its headers: SIGTERM still ends the gateway within seconds."""
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    config = tmp_path / "held.toml"
    config.write_text(
        '[clock]\nmode = "manual"\n\n[webhooks]\ntimeout_seconds = 600\n\n'
        '[[faults]]\nroute = "status"\naction = "latency"\nseconds = 3600\n'
    )
    process, url = start("--config", str(config))
    slow = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])))
    try:
        hook = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        job = _post(url + GENERATE_PATH, DOC_BODY, headers={"X-Webhook-URL": hook})
        assert isinstance(job, dict)
        advance = urllib.request.Request(  # answered once the webhook is sent: never, here
            url + "/_mock/clock/advance",
            data=b'{"seconds": 5}',
            headers={"Content-Type": "application/json"},
        )
        threading.Thread(target=_ignore_errors, args=(advance,), daemon=True).start()
        status = urllib.request.Request(
            f"{url}/v2/requests/status/{job['request_id']}",
            headers={"Ocp-Apim-Subscription-Key": "k-1234"},
        )
        threading.Thread(target=_ignore_errors, args=(status,), daemon=True).start()
        slow.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: x\r\n")
        silent.settimeout(60)
        hooked, _ = silent.accept()  # the webhook is in flight, and will never be answered
        time.sleep(0.5)  # the poll reaches its wait on gateway time
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
        took = time.monotonic() - began
        hooked.close()
    finally:
        slow.close()
        silent.close()
    assert took < 5, f"SIGTERM took {took:.1f} s"
    assert process.returncode == 0, err
    assert "mockgateway stopped" in out
    assert "Traceback" not in err


def _ignore_errors(request: urllib.request.Request) -> None:
    with contextlib.suppress(OSError):
        urllib.request.urlopen(request, timeout=60).read()


def test_a_script_that_serves_at_module_level_runs_once_and_completes(tmp_path: Path) -> None:
    """No ``if __name__ == "__main__":`` guard: the render worker must not run the script again."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import asyncio, json, urllib.request
            import mockgateway

            with open({str(marker)!r}, "a") as runs:
                runs.write("run\\n")


            async def main():
                config = mockgateway.config_from_mapping({{"clock": {{"mode": "manual"}}}})
                async with mockgateway.serve(config) as gw:
                    request = urllib.request.Request(
                        gw.url + {GENERATE_PATH!r},
                        data=json.dumps({DOC_BODY!r}).encode(),
                        headers={{"Content-Type": "application/json",
                                  "Ocp-Apim-Subscription-Key": "k-1234"}},
                    )
                    answer = await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)
                    rid = json.load(answer)["request_id"]
                    for _ in range(20):
                        await gw.advance(1)
                        job = gw.gateway.store.jobs[rid]
                        if job.status.terminal:
                            break
                    print(job.status.value, job.error)


            asyncio.run(main())
            """
        )
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "COMPLETED", result.stdout + result.stderr
    assert marker.read_text() == "run\n"
