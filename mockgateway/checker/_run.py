"""Run a client command against a freshly served gateway and judge what it did.

The gateway runs in a background thread on a free loopback port; the command gets
``MOCKGATEWAY_URL``, ``MOCKGATEWAY_API_KEY``, ``MOCKGATEWAY_SPEED`` (the clock's time scale,
so a client can shorten its sleeps), and ``MOCKGATEWAY_MODEL`` and ``MOCKGATEWAY_GENERATE_URL``
(the model it is to call: ``check --model ID``, else the first one served) in its environment.
With TLS (``check --tls``) the gateway serves HTTPS from a local CA, and the client finds the
CA's certificate through ``MOCKGATEWAY_CA_FILE`` and the variables its TLS library reads
(``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``, ``CURL_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``). The
rules then read the journal, whose times are the gateway's, so a scaled clock leaves every
timing rule meaning the same thing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from .._bodyparse import toml_config
from .._check_defaults import DEFAULT_API_KEY, DEFAULT_TIMEOUT
from .._clock import ClockMode
from .._config import ClockConfig, GatewayConfig, config_from_mapping
from .._errors import ConfigError
from .._journal import Journal, JournalEntry
from ..models import ModelSpec
from ._engine import RULE_IDS, check
from ._model import ClientRun, Verdict
from ._settings import CheckerSettings, settings_from_mapping

# What a client's TLS library reads to trust a CA, each set to the local CA's file: OpenSSL
# (Python's ssl, aiohttp, urllib and most others), requests, curl, Node.
CA_ENV_VARS = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSetup:
    """A gateway configuration and checker settings, read from one TOML file."""

    gateway: GatewayConfig
    checker: CheckerSettings


def load_setup(path: str | Path | None) -> CheckSetup:
    """Read a gateway TOML whose optional ``[checker]`` table tunes the rules."""
    if path is None:
        return CheckSetup(gateway=GatewayConfig(), checker=CheckerSettings())
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    data: dict[str, Any] = toml_config(raw, str(path))
    table = data.pop("checker", {})
    if not isinstance(table, Mapping):
        raise ConfigError("expected a table", key="checker", source=str(path))
    return CheckSetup(
        gateway=config_from_mapping(data, str(path), path.parent),
        checker=settings_from_mapping(table, source=str(path), known_rules=RULE_IDS),
    )


def scaled(config: GatewayConfig, speed: float | None) -> GatewayConfig:
    """The configuration with its clock running ``speed`` times faster (None: unchanged)."""
    if speed is None or speed == 1.0:
        return config
    if speed <= 0:
        raise ConfigError(f"must be positive, got {speed}", key="speed")
    return config.with_(clock=ClockConfig(mode=ClockMode.SCALED, speed=speed))


def served_model(models: Sequence[ModelSpec], model_id: str | None) -> ModelSpec:
    """The model a client is aimed at: ``model_id``, or the first model the gateway serves;
    a :class:`ConfigError` names the models served when there is no such one."""
    served = [m for m in models if m.enabled]
    for spec in served:
        if model_id is None or spec.id == model_id:
            return spec
    listed = ", ".join(m.id for m in served) or "none"
    if model_id is None:
        raise ConfigError("no model is enabled, so there is none to call", key="models")
    declared = any(m.id == model_id for m in models)
    why = "is declared but switched off" if declared else "is not declared"
    raise ConfigError(f"model {model_id!r} {why} (served: {listed})")


def generate_url(url: str, model: ModelSpec) -> str:
    """Where a client submits a job of ``model`` on the gateway at ``url``."""
    return f"{url}/{model.id}/v1/{model.operation}"


def client_env(
    url: str,
    api_key: str,
    speed: float,
    base: Mapping[str, str],
    ca_file: str | Path | None = None,
    model: ModelSpec | None = None,
) -> dict[str, str]:
    """``base`` with what a client needs to reach the gateway (and trust it, with a CA file),
    and with ``model`` the model to call and its generate URL."""
    env = dict(base)
    env.update(
        MOCKGATEWAY_URL=url,
        MOCKGATEWAY_API_KEY=api_key,
        MOCKGATEWAY_SPEED=f"{speed:g}",
    )
    if model is not None:
        env["MOCKGATEWAY_MODEL"] = model.id
        env["MOCKGATEWAY_GENERATE_URL"] = generate_url(url, model)
    if ca_file is not None:
        env["MOCKGATEWAY_CA_FILE"] = str(ca_file)
        env.update(dict.fromkeys(CA_ENV_VARS, str(ca_file)))
    return env


def write_ca_file(
    ca_pem: bytes | None, directory: str | Path, name: str = "mockgateway-ca.pem"
) -> Path | None:
    """Write a local CA's certificate where a client can read it (None: no local CA)."""
    if ca_pem is None:
        return None
    path = Path(directory) / name
    path.write_bytes(ca_pem)
    return path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the client and anything it started (it runs in its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=3)
            return
        except subprocess.TimeoutExpired:
            continue


def run_client(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    timeout: float,
    cwd: str | None = None,
    stdout: Any = None,
    stderr: Any = None,
) -> ClientRun:
    """Run the client to completion (or until ``timeout`` real seconds), never raising."""
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            list(command), env=dict(env), cwd=cwd, stdout=stdout, stderr=stderr,
            start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        return ClientRun(command=tuple(command), exit_code=None, launch_error=str(exc))
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        return ClientRun(
            command=tuple(command),
            exit_code=None,
            timed_out=True,
            duration=time.monotonic() - started,
        )
    except BaseException:
        _stop(proc)
        raise
    return ClientRun(command=tuple(command), exit_code=code, duration=time.monotonic() - started)


def run_check(
    command: Sequence[str],
    *,
    setup: CheckSetup | None = None,
    api_key: str = DEFAULT_API_KEY,
    speed: float | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    cwd: str | None = None,
    stdout: Any = None,
    stderr: Any = None,
    drain_timeout: float = 10.0,
    tls: bool = False,
    budget: Decimal | None = None,
    model: str | None = None,
) -> tuple[Verdict, list[JournalEntry]]:
    """Serve a gateway (HTTPS from a local CA with ``tls``), run the client against it, and judge
    the journal it left; ``model`` is the id of the model the client is told to call (the first
    served unless given). Each generate request is judged by the model its path calls.

    A client that made no request to the vendor API fails the verdict as "no traffic".
    """
    from .._server import serve_in_thread

    setup = setup or load_setup(None)
    config = scaled(setup.gateway, speed)
    aimed = served_model(config.models, model)
    with contextlib.ExitStack() as stack:
        gw = stack.enter_context(serve_in_thread(config, port=0, tls=tls))
        ca_file = write_ca_file(gw.ca_pem, stack.enter_context(tempfile.TemporaryDirectory()))
        env = client_env(gw.url, api_key, config.clock.speed, os.environ, ca_file, aimed)
        run = run_client(command, env, timeout=timeout, cwd=cwd, stdout=stdout, stderr=stderr)
        # webhook attempts still in flight when the client ends belong in the journal
        gw.call(gw.gateway.webhooks.drain, timeout=drain_timeout)
        entries = gw.call(gw.gateway.journal)
        billing = gw.call(gw.gateway.bills)
    speed = config.clock.speed if config.clock.mode is ClockMode.SCALED else 1.0
    verdict = check(
        entries,
        setup.checker.at_speed(speed),
        client_run=run,
        require_traffic=True,
        budget=budget,
        billing=billing,
        models=config.models,
    )
    return verdict, entries


_HAR_HINT = " (a HAR file is the journal for HTTP tools; judge the JSON one: GET /_mock/journal)"


def load_saved(path: str | Path) -> list[JournalEntry]:
    """Read a journal saved as JSON (``GET /_mock/journal`` or ``Journal.dump``)."""
    path = Path(path)
    try:
        entries = Journal.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read journal: {exc.strerror}", source=str(path)) from None
    except KeyError as exc:
        hint = _HAR_HINT if path.suffix.lower() == ".har" else ""
        raise ConfigError(f"not a saved journal: it has no {exc}{hint}", source=str(path)) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"not a saved journal: {exc}", source=str(path)) from None
    for i, entry in enumerate(entries):
        problem = _malformed(entry)
        if problem:
            raise ConfigError(f"not a saved journal: entry {i}: {problem}", source=str(path))
    return entries


def judge_saved(
    path: str | Path,
    settings: CheckerSettings | None = None,
    *,
    budget: Decimal | None = None,
    models: Sequence[ModelSpec] | None = None,
) -> Verdict:
    """Judge a saved journal; its status entries carry what the jobs they saw end cost.
    ``models``: the models the gateway that kept it ran with (the built-in ones unless given)."""
    return check(load_saved(path), settings, require_traffic=True, budget=budget, models=models)


def _malformed(entry: JournalEntry) -> str | None:
    """What is wrong with an entry read from a file, as far as the rules rely on it."""

    def number(value: object) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool)

    if not isinstance(entry.seq, int) or isinstance(entry.seq, bool):
        return f"seq must be a whole number, got {entry.seq!r}"
    for name in ("started_at", "finished_at"):
        if not number(getattr(entry, name)):
            return f"{name} must be a number, got {getattr(entry, name)!r}"
    if entry.status is not None and not (isinstance(entry.status, int) and number(entry.status)):
        return f"status must be a whole number or null, got {entry.status!r}"
    if entry.billing is not None and not isinstance(entry.billing, dict):
        return f"billing must be an object or null, got {entry.billing!r}"
    for name in ("headers", "response_headers"):
        value = getattr(entry, name)
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return f"{name} must be an object of strings"
    for name in ("kind", "route", "method", "url", "path"):
        if not isinstance(getattr(entry, name), str):
            return f"{name} must be a string, got {getattr(entry, name)!r}"
    for name in ("key", "request_id", "error", "body_sha256"):
        value = getattr(entry, name)
        if value is not None and not isinstance(value, str):
            return f"{name} must be a string or null, got {value!r}"
    return None
