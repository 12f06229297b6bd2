"""Just enough WebDriver BiDi to drive Debian's Firefox ESR headless from a test: open a page,
run script in it, press keys, size the window, take a screenshot.

Playwright's Firefox is a patched build it downloads, and its BiDi mode needs commands Firefox
ESR 140 does not have, so the dashboard's Firefox tests speak the W3C protocol themselves over
aiohttp's websocket client. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import re
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

LISTENING = re.compile(rb"WebDriver BiDi listening on (ws://[^\s]+)")
TAB = "\ue004"
ENTER = "\ue007"


class BidiError(AssertionError):
    """The browser refused a command, or a wait ran out."""


class Firefox:
    """One headless Firefox and its first tab."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, timeout: float) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.timeout = timeout
        self.context = ""

    async def send(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        command_id = next(self._ids)
        await self._ws.send_str(json.dumps({"id": command_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BidiError(f"{method}: no answer within {self.timeout} s")
            message = await self._ws.receive(timeout=left)
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise BidiError(f"{method}: the browser closed its connection ({message.type})")
            data = json.loads(message.data)
            if data.get("id") != command_id:
                continue  # an event, or an earlier command's late answer
            if data.get("type") == "error":
                raise BidiError(f"{method}: {data.get('error')}: {data.get('message')}")
            result: dict[str, Any] = data["result"]
            return result

    async def goto(self, url: str) -> None:
        await self.send(
            "browsingContext.navigate", {"context": self.context, "url": url, "wait": "complete"}
        )

    async def evaluate(self, expression: str) -> Any:
        """The JSON value of ``expression`` (awaited when it is a promise)."""
        result = await self.send(
            "script.evaluate",
            {
                "expression": f"(async () => JSON.stringify(await ({expression})))()",
                "target": {"context": self.context},
                "awaitPromise": True,
            },
        )
        if result.get("type") == "exception":
            details = result["exceptionDetails"]
            raise BidiError(f"{expression[:80]}: {details.get('text')}")
        value = result["result"]
        return json.loads(value["value"]) if value.get("type") == "string" else None

    async def wait_for(self, expression: str, what: str) -> Any:
        """Poll ``expression`` until it is truthy, at most ``timeout`` seconds."""
        deadline = time.monotonic() + self.timeout
        last: Any = None
        while time.monotonic() < deadline:
            last = await self.evaluate(expression)
            if last:
                return last
            await asyncio.sleep(0.1)  # the page refreshes from the gateway on its own timer
        raise BidiError(f"waited {self.timeout} s for {what}; last value {last!r}")

    async def press(self, key: str) -> None:
        actions = [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        await self.send(
            "input.performActions",
            {
                "context": self.context,
                "actions": [{"type": "key", "id": "keys", "actions": actions}],
            },
        )

    async def viewport(self, width: int, height: int) -> None:
        await self.send(
            "browsingContext.setViewport",
            {"context": self.context, "viewport": {"width": width, "height": height}},
        )

    async def screenshot(self, path: Path) -> None:
        shot = await self.send(
            "browsingContext.captureScreenshot", {"context": self.context, "origin": "document"}
        )
        await asyncio.to_thread(path.write_bytes, base64.b64decode(shot["data"]))


async def _listening(process: asyncio.subprocess.Process, timeout: float) -> str:
    assert process.stderr is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        line = await asyncio.wait_for(process.stderr.readline(), left)
        if not line:
            break
        seen += line
        if found := LISTENING.search(line):
            return found.group(1).decode()
    raise BidiError(f"Firefox did not offer WebDriver BiDi within {timeout} s: {seen[-2000:]!r}")


@contextlib.asynccontextmanager
async def firefox(path: str, *, timeout: float = 15.0) -> AsyncIterator[Firefox]:
    """Start ``path`` headless with a fresh profile; stop it (and only it) afterwards."""
    with tempfile.TemporaryDirectory(prefix="mockgateway-firefox-") as profile:
        process = await asyncio.create_subprocess_exec(
            path,
            "--headless",
            "--no-remote",
            "--remote-debugging-port=0",
            "--profile",
            profile,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        drain: asyncio.Task[bytes] | None = None
        try:
            url = await _listening(process, 60.0)
            assert process.stderr is not None
            drain = asyncio.get_running_loop().create_task(process.stderr.read())
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"{url}/session", max_msg_size=64 * 1024 * 1024) as ws,
            ):
                browser = Firefox(ws, timeout)
                await browser.send("session.new", {"capabilities": {}})
                tree = await browser.send("browsingContext.getTree", {})
                browser.context = tree["contexts"][0]["context"]
                try:
                    yield browser
                finally:
                    with contextlib.suppress(BidiError, aiohttp.ClientError):
                        await browser.send("browser.close", {})
        finally:
            if process.returncode is None:
                process.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 15)
            if process.returncode is None:
                process.kill()
                await process.wait()
            if drain is not None:
                drain.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await drain
