"""HTTPS: ``serve --tls`` (a local CA made at start), ``--cert/--key`` (the operator's own),
``serve(tls=...)`` in-process, ``check --tls`` and ``--mockgateway-tls``, reached over loopback by
Python ``requests``, curl and Node, each trusting only the CA it was given."""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
import trustme

import mockgateway
from mockgateway._tls import client_context

from .checker_builders import PLUGIN
from .support import DOC_BODY, DOC_HEADERS, GENERATE_PATH, KEY, manual_config

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
CLIENTS = Path(__file__).parent / "clients"
HEADERS = {**DOC_HEADERS, "Ocp-Apim-Subscription-Key": KEY}
FAST_JOBS = (
    '[lifecycle]\nqueue_seconds = 0.05\nprocessing_seconds = 0.1\n[media]\nmode = "sample"\n'
)


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MOCKGATEWAY_")}


class Served:
    """A ``mockgateway serve`` process and the lines it printed at start."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockgateway", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_environ(),
        )
        assert self.process.stdout is not None
        self.lines = [self.process.stdout.readline() for _ in range(5)]  # URL, dashboard, routes
        assert self.lines[0].startswith("mockgateway listening on "), self.lines
        self.url = self.lines[0].split()[-1]
        self.ca_line = self.process.stdout.readline() if "--tls" in args else ""

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _out, err = self.process.communicate(timeout=15)
        assert self.process.returncode == 0, err
        return err


@pytest.fixture
def local_ca(tmp_path: Path) -> Iterator[tuple[Served, Path]]:
    config = tmp_path / "fast.toml"
    config.write_text(FAST_JOBS)
    ca_file = tmp_path / "ca.pem"
    served = Served("--tls", "--ca-file", str(ca_file), "--config", str(config))
    try:
        yield served, ca_file
    finally:
        served.stop()


def test_serve_tls_prints_the_https_url_and_writes_the_ca(local_ca: tuple[Served, Path]) -> None:
    served, ca_file = local_ca
    assert served.url.startswith("https://127.0.0.1:")
    assert all(line.split()[-1].startswith("https://") for line in served.lines[1:])
    assert served.ca_line.split() == ["CA:", str(ca_file)]
    assert ca_file.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_requests_trusting_the_ca_gets_https_polling_and_media_urls(
    local_ca: tuple[Served, Path],
) -> None:
    served, ca_file = local_ca
    url = served.url
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the CA
        requests.get(f"{url}/_mock/health", timeout=10)
    created = requests.post(
        url + GENERATE_PATH, json=DOC_BODY, headers=HEADERS, verify=ca_file, timeout=10
    )
    assert created.status_code == 202
    polling_url = created.json()["polling_url"]
    assert polling_url.startswith(f"{url}/v2/requests/status/")
    deadline = time.monotonic() + 30
    while True:
        status = requests.get(polling_url, headers=HEADERS, verify=ca_file, timeout=10).json()
        if status["status"] == "COMPLETED" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status["status"] == "COMPLETED", status
    [media_url] = status["output"]["media_url"]
    assert media_url.startswith(f"{url}/v1/")
    media = requests.get(media_url, verify=ca_file, timeout=30)
    assert (media.status_code, media.headers["Content-Type"]) == (200, "video/mp4")
    journal = requests.get(f"{url}/_mock/journal", verify=ca_file, timeout=10).json()
    assert journal["entries"][0]["url"] == url + GENERATE_PATH  # journaled as https too


@needs_curl
def test_curl_with_cacert(local_ca: tuple[Served, Path]) -> None:
    served, ca_file = local_ca
    command = [
        "curl", "-sS", "--fail", "--cacert", str(ca_file), "-X", "POST", served.url + GENERATE_PATH,
        "-H", "Content-Type: application/json", "-H", f"Ocp-Apim-Subscription-Key: {KEY}",
        "-d", json.dumps(DOC_BODY),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["polling_url"].startswith("https://127.0.0.1:")
    refused = subprocess.run(command[:2] + command[4:], capture_output=True, text=True, timeout=30)
    assert refused.returncode == 60  # curl: the peer's certificate cannot be verified


NODE_CLIENT = """
// with `node -e`, argv[1] is the first argument
const https = require('https');
const body = JSON.stringify(JSON.parse(process.argv[1]));
const viaFetch = fetch(process.env.GATEWAY + '/_mock/health').then((r) => r.json());
const req = https.request(process.env.GATEWAY + process.argv[2], {
  method: 'POST', headers: JSON.parse(process.argv[3]),
}, (res) => {
  let text = '';
  res.on('data', (chunk) => { text += chunk; });
  res.on('end', async () => {
    const health = await viaFetch;
    console.log(JSON.stringify({ status: res.statusCode, body: JSON.parse(text), health }));
  });
});
req.on('error', (err) => { console.error(err.code || err.message); process.exit(3); });
req.end(body);
"""


@needs_node
def test_node_https_and_fetch_with_extra_ca_certs(local_ca: tuple[Served, Path]) -> None:
    served, ca_file = local_ca
    command = ["node", "-e", NODE_CLIENT, json.dumps(DOC_BODY), GENERATE_PATH, json.dumps(HEADERS)]
    env = {**_environ(), "GATEWAY": served.url}
    trusted = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "NODE_EXTRA_CA_CERTS": str(ca_file)},
    )
    assert trusted.returncode == 0, trusted.stderr
    answer = json.loads(trusted.stdout)
    assert answer["status"] == 202
    assert answer["body"]["polling_url"].startswith(served.url + "/v2/requests/status/")
    assert answer["health"]["status"] == "ok"
    untrusted = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert untrusted.returncode != 0
    assert "SELF_SIGNED_CERT_IN_CHAIN" in untrusted.stderr or "UNABLE_TO" in untrusted.stderr


def test_serve_tls_without_ca_file_writes_one_for_its_lifetime() -> None:
    served = Served("--tls")
    ca_file = Path(served.ca_line.split()[-1])
    try:
        health = requests.get(f"{served.url}/_mock/health", verify=ca_file, timeout=10)
        assert health.json()["status"] == "ok"
    finally:
        served.stop()
    assert not ca_file.exists()


@pytest.fixture
def own_certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "their-ca.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    return cert, key, ca_file


def test_serve_with_the_operators_own_certificate(own_certificate: tuple[Path, Path, Path]) -> None:
    cert, key, ca_file = own_certificate
    served = Served("--cert", str(cert), "--key", str(key))
    try:
        assert served.url.startswith("https://")
        created = requests.post(
            served.url + GENERATE_PATH, json=DOC_BODY, headers=HEADERS, verify=ca_file, timeout=10
        )
        assert created.json()["polling_url"].startswith("https://")
    finally:
        served.stop()


def test_a_cert_file_holding_its_key_needs_no_key_option(
    own_certificate: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    cert, key, ca_file = own_certificate
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    served = Served("--cert", str(both))
    try:
        health = requests.get(f"{served.url}/_mock/health", verify=ca_file, timeout=10)
        assert health.json()["status"] == "ok"
    finally:
        served.stop()


def test_tls_without_trustme_says_how_to_install() -> None:
    code = (
        "import sys; sys.modules['trustme'] = None\n"
        "from mockgateway._cli import main\n"
        "sys.exit(main(['serve', '--tls', '--port', '0']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, env=_environ()
    )
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "mockgateway serve: error: --tls: TLS with a local CA needs trustme: "
        "pip install 'mockgateway[tls]'"
    )


# in-process -------------------------------------------------------------------------------------


async def test_in_process_serve_tls_true() -> None:
    async with mockgateway.serve(manual_config(), tls=True) as gw:
        assert gw.url.startswith("https://127.0.0.1:")
        assert gw.ca_pem is not None
        context = client_context(gw.ca_pem)
        async with aiohttp.ClientSession() as session:
            async with session.post(
                gw.url + GENERATE_PATH, json=DOC_BODY, headers=HEADERS, ssl=context
            ) as response:
                assert response.status == 202
                created = await response.json()
            assert created["polling_url"].startswith(gw.url)
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await session.get(gw.url + "/_mock/health")  # the default trust store refuses


async def test_in_process_serve_with_an_ssl_context(
    own_certificate: tuple[Path, Path, Path],
) -> None:
    cert, key, ca_file = own_certificate
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    async with mockgateway.serve(manual_config(), tls=server) as gw:
        assert gw.ca_pem is None
        client = ssl.create_default_context(cafile=str(ca_file))
        async with (
            aiohttp.ClientSession() as session,
            session.get(gw.url + "/_mock/health", ssl=client) as response,
        ):
            assert response.status == 200


def test_serve_in_thread_passes_tls_on() -> None:
    with mockgateway.serve_in_thread(manual_config(), tls=True) as gw:
        assert gw.ca_pem is not None
        context = client_context(gw.ca_pem)
        import urllib.request

        with urllib.request.urlopen(gw.url + "/_mock/health", context=context, timeout=10) as r:
            assert json.load(r)["status"] == "ok"


# the checker and the pytest fixture -------------------------------------------------------------


@pytest.mark.parametrize(
    "client",
    [
        pytest.param([sys.executable, str(CLIENTS / "client.py")], id="python"),
        # node: the README's own `check --tls` command, in test_readme_serve.py
        pytest.param(["sh", str(CLIENTS / "client.sh")], id="curl", marks=needs_curl),
    ],
)
def test_check_tls_runs_an_https_client(client: list[str]) -> None:
    """The example clients know nothing of TLS: they trust the CA through the environment."""
    result = subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--tls", "--speed", "50", "--", *client],
        capture_output=True, text=True, timeout=120, env=_environ(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_tls_hands_the_client_its_ca_file() -> None:
    probe = (
        "import os, json, ssl, urllib.request\n"
        "ca = os.environ['MOCKGATEWAY_CA_FILE']\n"
        "assert all(os.environ[v] == ca for v in ('SSL_CERT_FILE', 'REQUESTS_CA_BUNDLE',"
        " 'CURL_CA_BUNDLE', 'NODE_EXTRA_CA_CERTS'))\n"
        "url = os.environ['MOCKGATEWAY_URL']\n"
        "assert url.startswith('https://'), url\n"
        "urllib.request.urlopen(url + '/_mock/health', timeout=10).close()\n"  # SSL_CERT_FILE
    )
    result = subprocess.run(
        [sys.executable, "-m", "mockgateway", "check", "--tls", "--", sys.executable, "-c", probe],
        capture_output=True, text=True, timeout=120, env=_environ(),
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 3: the client failed


pytest_plugins = ["pytester"]


def test_the_fixture_serves_https_with_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_https="""
        import json, os, ssl, subprocess, sys, urllib.request

        def test_fixture(mock_gateway):
            assert mock_gateway.url.startswith("https://127.0.0.1:")
            assert mock_gateway.env["SSL_CERT_FILE"] == mock_gateway.ca_file
            context = ssl.create_default_context(cafile=mock_gateway.ca_file)
            with urllib.request.urlopen(mock_gateway.url + "/_mock/health", context=context) as r:
                assert json.load(r)["status"] == "ok"
            mock_gateway.set_balance("3.00")  # the fixture's own admin calls trust the CA
            child = "import os, urllib.request; urllib.request.urlopen(os.environ['MOCKGATEWAY_URL'] + '/_mock/health').close()"
            subprocess.run([sys.executable, "-c", child], env=mock_gateway.env, check=True)
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "--mockgateway-tls")
    result.assert_outcomes(passed=1)
