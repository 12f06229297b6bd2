"""An example client of the gateway's API, careful by default, careless on request.

Reads MOCKGATEWAY_URL, MOCKGATEWAY_API_KEY and MOCKGATEWAY_SPEED (every sleep is divided by
the speed, so a gateway with a scaled clock sees 5 s between polls while a test waits
milliseconds), and MOCKGATEWAY_GENERATE_URL, the model to call (OmniHuman v1.5 without it).
Standard library only, so it runs wherever Python does.

    python client.py                       # careful: follows the documented contract
    python client.py --webhook             # careful, takes a webhook instead of polling
    python client.py --careless RULE_ID    # breaks exactly that rule
    python client.py --body '{"prompt": "a lighthouse"}'   # another model's body

Exit status: 0 when the output was downloaded, 2 when the API refused the request, 1 otherwise.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import queue
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import Any

BASE = os.environ.get("MOCKGATEWAY_URL", "http://127.0.0.1:8080").rstrip("/")
KEY = os.environ.get("MOCKGATEWAY_API_KEY", "my-key")
SPEED = float(os.environ.get("MOCKGATEWAY_SPEED", "1"))
GENERATE = os.environ.get(
    "MOCKGATEWAY_GENERATE_URL",
    f"{BASE}/bytedance-omnihuman-v1-5-290/v1/bytedance-omnihuman-v1-5-request",
)
BODY = {
    "image_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_image.png",
    "audio_url": "https://storage.googleapis.com/falserverless/example_inputs/omnihuman_v15_input_audio.mp3",
    "resolution": "720p",
}
TERMINAL = ("COMPLETED", "FAILED", "ERROR")
MISTAKES = (
    "key-header",
    "generate-content-type",
    "generate-cache-control",
    "generate-model",
    "generate-body-schema",
    "generate-undocumented-field",
    "poll-interval",
    "poll-polling-url",
    "poll-after-terminal",
    "retry-after-429",
    "resubmit-after-rejection",
    "backoff-after-5xx",
    "download-output",
    "webhook-receiver-2xx",
    "duplicate-submission",
)


class Refused(Exception):
    """The API said no (400/401/402/403): retrying the same request cannot help."""


def sleep(gateway_seconds: float) -> None:
    time.sleep(gateway_seconds / SPEED)


class Client:
    def __init__(self, careless: str | None, body: dict[str, Any] | None = None) -> None:
        self.careless = careless
        self.body = dict(BODY) if body is None else body

    def call(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int | None, dict[str, str], bytes]:
        """One HTTP exchange; status None for a broken connection."""
        data = (
            None
            if body is None
            else (body if isinstance(body, bytes) else json.dumps(body).encode())
        )
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            print(f"connection problem: {err}", file=sys.stderr)
            return None, {}, b""

    def with_retries(
        self, method: str, url: str, body: Any, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Honour Retry-After on 429 and back off exponentially on 5xx or broken connections."""
        delay = 1.0
        for _ in range(5):
            status, resp_headers, raw = self.call(method, url, body, headers)
            if status == 429:
                wanted = float(resp_headers.get("Retry-After", "1"))
                sleep(0 if self.careless == "retry-after-429" else wanted)
                continue
            if status is None or status >= 500:
                sleep(0 if self.careless == "backoff-after-5xx" else delay)
                delay = min(delay * 2, 30.0)
                continue
            return status, raw
        raise RuntimeError(f"{method} {url}: gave up after repeated failures")

    def key_headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": KEY}

    def submit(self, webhook_url: str | None = None) -> dict[str, Any]:
        body: Any = dict(self.body)
        url = GENERATE
        headers = {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            **self.key_headers(),
        }
        if self.careless == "generate-content-type":
            headers["Content-Type"] = "text/plain"
        if self.careless == "generate-cache-control":
            del headers["Cache-Control"]
        if self.careless == "generate-model":  # a model the gateway does not serve
            model, _, operation = url.rpartition("/v1/")
            url = f"{model}-preview/v1/{operation}"
        if self.careless == "generate-body-schema":  # every example body's first field is required
            del body[next(iter(body))]
        if self.careless == "generate-undocumented-field":
            body["turbo_mode"] = True
        if webhook_url:
            headers["X-Webhook-URL"] = webhook_url
        status, raw = self.with_retries("POST", url, body, headers)
        if self.careless == "resubmit-after-rejection":
            for _ in range(2):
                if status not in (400, 401, 402, 403):
                    break
                sleep(1)
                status, raw = self.with_retries("POST", url, body, headers)
        if status in (400, 401, 402, 403, 404):
            raise Refused(f"generate refused with {status}: {raw.decode(errors='replace')}")
        if status != 202:
            raise RuntimeError(f"generate answered {status}")
        return json.loads(raw)

    def poll(self, accepted: dict[str, Any]) -> dict[str, Any]:
        url = accepted["polling_url"]
        pace = 1.0 if self.careless == "poll-interval" else 5.0
        headers = {} if self.careless == "key-header" else self.key_headers()
        if self.careless == "poll-polling-url":
            sleep(pace)
            guessed = f"{BASE}/bytedance-omnihuman-v1-5-290/v1/requests/{accepted['request_id']}"
            status, _ = self.with_retries("GET", guessed, None, headers)
            print(f"guessed status URL answered {status}; using polling_url", file=sys.stderr)
        while True:
            sleep(pace)
            status, raw = self.with_retries("GET", url, None, headers)
            if status != 200:
                raise RuntimeError(f"status answered {status}: {raw!r}")
            job = json.loads(raw)
            print(f"{job['request_id']}: {job['status']}", file=sys.stderr)
            if job["status"] in TERMINAL:
                if self.careless == "poll-after-terminal":
                    sleep(pace)
                    self.with_retries("GET", url, None, headers)
                return job

    def download(self, job: dict[str, Any]) -> int:
        if job["status"] != "COMPLETED":
            print(f"job ended {job['status']}: {job['error']}", file=sys.stderr)
            return 1
        if self.careless == "download-output":
            print("done (output not downloaded)")
            return 0
        for media_url in job["output"]["media_url"]:
            status, raw = self.with_retries("GET", media_url, None, {})
            if status != 200:
                raise RuntimeError(f"media answered {status}")
            print(f"downloaded {len(raw)} bytes of {job['output']['media_type']}")
        return 0

    def run_polling(self) -> int:
        accepted = self.submit()
        if self.careless == "duplicate-submission":
            self.download(self.poll(self.submit()))  # "just to be sure", billed twice
        return self.download(self.poll(accepted))

    def run_webhook(self) -> int:
        received: queue.Queue[dict[str, Any]] = queue.Queue()
        answer = 500 if self.careless == "webhook-receiver-2xx" else 204

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length", "0"))
                received.put(json.loads(self.rfile.read(size)))
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            self.submit(f"http://127.0.0.1:{server.server_address[1]}/callback")
            job = received.get(timeout=60)
            if self.careless == "webhook-receiver-2xx":
                received.get(timeout=60)  # the gateway retries a failed delivery; see it once more
            return self.download(job)
        finally:
            server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--careless", choices=MISTAKES, help="break this rule on purpose")
    parser.add_argument("--webhook", action="store_true", help="receive a webhook, do not poll")
    parser.add_argument("--body", type=json.loads, help="the generate body, as JSON")
    args = parser.parse_args()
    client = Client(args.careless, args.body)
    try:
        webhook = args.webhook or args.careless == "webhook-receiver-2xx"
        return client.run_webhook() if webhook else client.run_polling()
    except Refused as exc:
        print(exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
