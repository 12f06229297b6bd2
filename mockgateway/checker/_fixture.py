"""What the pytest plugin hands a test: a gateway per session, a handle per test, a verdict after.

The plugin module stays thin; this module owns the behaviour. A session starts its shared
gateway only when a test first asks for it, resets it before every test, and starts a dedicated
gateway for a test whose marker (:mod:`._marker`) asks for its own configuration or clock, and
aims the handle at the model the marker (or ``--mockgateway-model``) names. With
``--mockgateway-tls`` every gateway serves HTTPS from a local CA whose certificate the session
writes to a file (``ca_file``, and in ``env`` for a subprocess client).
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._clock import Clock, ClockMode
from .._errors import ConfigError, ContractViolation, MockGatewayError
from .._journal import KEY_HEADER, JournalEntry
from ._engine import check
from ._marker import PluginOptions, PluginUsageError, config_with_clock, read_marker
from ._model import Severity, Verdict
from ._report_text import render_text
from ._run import CheckSetup, client_env, generate_url, load_setup, served_model, write_ca_file
from ._settings import CheckerSettings

_JSON = "application/json"

if TYPE_CHECKING:
    from decimal import Decimal

    from .._gateway import Gateway
    from .._server import ThreadedGateway
    from ..models import ModelSpec


@dataclass
class MockGateway:
    """The handle a test receives as ``mock_gateway``.

    ``url`` and ``api_key`` are what a client needs; ``model`` is the model the test aims at and
    ``generate_url`` where to submit its jobs; ``env`` carries them (and the clock speed) for a
    subprocess; ``journal()`` lists this test's requests; ``clock`` is the gateway's clock.
    Over TLS, ``ca_file`` is the CA certificate to trust (``env`` names it for the usual TLS
    libraries).
    Sleep ``real_seconds(5)`` between polls and the gateway sees 5 s pass.
    """

    threaded: ThreadedGateway
    api_key: str
    scenario: str | None
    check_level: str
    settings: CheckerSettings
    ca_file: str | None = None
    model_id: str | None = None  # None: the first model the gateway serves
    verdict: Verdict | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return self.threaded.url

    @property
    def gateway(self) -> Gateway:
        return self.threaded.gateway

    @property
    def clock(self) -> Clock:
        return self.threaded.gateway.clock

    @property
    def speed(self) -> float:
        return (
            self.threaded.gateway.config.clock.speed
            if self.clock.mode is not ClockMode.REAL
            else 1.0
        )

    @property
    def model(self) -> ModelSpec:
        """The model this test aims at (the marker's ``model``, else the first one served)."""
        return served_model(self.threaded.gateway.config.models, self.model_id)

    @property
    def generate_url(self) -> str:
        """Where to submit a job of :attr:`model`: ``{url}/{model_id}/v1/{operation}``."""
        return generate_url(self.url, self.model)

    @property
    def headers(self) -> dict[str, str]:
        """The documented generate headers with this test's key."""
        return {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            KEY_HEADER: self.api_key,
        }

    @property
    def env(self) -> dict[str, str]:
        return client_env(self.url, self.api_key, self.speed, os.environ, self.ca_file, self.model)

    def real_seconds(self, gateway_seconds: float) -> float:
        """Real seconds to sleep for ``gateway_seconds`` of gateway time to pass (0: manual)."""
        delay = self.clock.real_delay(gateway_seconds)
        return 0.0 if delay is None else delay

    def advance(self, seconds: float) -> float:
        """Move a manual clock and settle what became due."""
        return self.threaded.advance(seconds)

    def _admin(self, method: str, path: str, body: bytes | None, content_type: str) -> Any:
        """One call to the admin API over HTTP, so the change is journaled like an operator's."""
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            f"{self.url}/_mock/{path}",
            data=body,
            method=method,
            headers={"Content-Type": content_type},
        )
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            answer = json.loads(err.read() or b"{}")
            raise MockGatewayError(
                f"{method} /_mock/{path}: {err.code} {answer.get('message', '')}"
            ) from None

    def set_balance(self, amount: str | int | Decimal, key: str | None = None) -> None:
        """Set a wallet (this test's key by default) through the admin API."""
        from urllib.parse import quote

        body = json.dumps({"balance": str(amount)}).encode()
        self._admin("PUT", f"wallets/{quote(key or self.api_key, safe='')}", body, _JSON)

    def set_scenario(self, scenario: Mapping[str, Any] | str | Path | None) -> None:
        """Change the gateway's scenario for the rest of this test, through the admin API.

        A mapping shaped like the scenario sections of a configuration file
        (``{"faults": [...], "delays": {...}}``), a TOML file holding them, or None for the
        scenario the gateway started with. The next test starts from that one again.
        """
        if scenario is None:
            self._admin("DELETE", "scenario", None, _JSON)
        elif isinstance(scenario, Mapping):
            self._admin("PUT", "scenario", json.dumps(scenario).encode(), _JSON)
        else:
            text = Path(scenario).read_bytes()
            self._admin("PUT", "scenario", text, "application/toml")

    def journal(self) -> list[JournalEntry]:
        gateway = self.threaded.gateway
        return self.threaded.call(gateway.journal)

    def check(self) -> Verdict:
        """Judge this test's journal now (waiting for webhook deliveries in flight)."""
        self.threaded.call(self.threaded.gateway.webhooks.drain)
        gateway = self.threaded.gateway

        # one coroutine on the gateway's loop: the journal and the bills of the same moment
        async def both() -> tuple[list[JournalEntry], dict[str, dict[str, Any]]]:
            return await gateway.journal(), await gateway.bills()

        entries, billing = self.threaded.call(both)
        settings = self.settings.at_speed(self.speed)
        return check(entries, settings, billing=billing, models=gateway.config.models)

    def record_quietly(self) -> None:
        """Judge for the record (the run's summary), never raising."""
        try:
            self.verdict = self.check()
        except Exception:
            self.verdict = None

    def assert_contract(self, level: str | None = None) -> Verdict:
        """Raise :class:`ContractViolation` naming each broken rule, else return the verdict.

        The message's first line (what pytest's short summary shows) starts with the broken
        rules' ids and the first one's reason.
        """
        __tracebackhide__ = True
        level = level or (self.check_level if self.check_level != "off" else "error")
        verdict = self.check()
        self.verdict = verdict
        failing = {Severity.ERROR} | ({Severity.WARNING} if level == "warning" else set())
        broken = [v for v in verdict.violations if v.severity in failing]
        if broken:
            ids = ", ".join(sorted({v.rule_id for v in broken}))
            first = min(broken, key=lambda v: v.rule_id)
            raise ContractViolation(f"{ids}: {first.message}\n\n{render_text(verdict)}")
        return verdict


def _aim(threaded: ThreadedGateway, model_id: str | None) -> None:
    """Refuse a test's model unless the gateway it gets serves it."""
    try:
        served_model(threaded.gateway.config.models, model_id)
    except ConfigError as exc:
        raise PluginUsageError(f"mockgateway model: {exc}") from None


class GatewaySession:
    """One per pytest session (per xdist worker): the shared gateway and dedicated ones."""

    def __init__(self, options: PluginOptions) -> None:
        self.options = options
        self._setup: CheckSetup | None = None
        self._stack = contextlib.ExitStack()
        self._shared: ThreadedGateway | None = None
        self._ca_dir: str | None = None
        self.used = 0

    @property
    def setup(self) -> CheckSetup:
        if self._setup is None:
            base = load_setup(self.options.config)
            gateway = config_with_clock(base.gateway, self.options.speed, None)
            self._setup = CheckSetup(gateway=gateway, checker=base.checker)
        return self._setup

    def shared(self) -> ThreadedGateway:
        if self._shared is None:
            from .._server import serve_in_thread

            self._shared = self._stack.enter_context(
                serve_in_thread(self.setup.gateway, port=0, tls=self.options.tls)
            )
        return self._shared

    def ca_file(self, threaded: ThreadedGateway) -> str | None:
        """The file holding the CA certificate ``threaded`` serves under (None: plain HTTP)."""
        if threaded.ca_pem is None:
            return None
        if self._ca_dir is None:
            self._ca_dir = self._stack.enter_context(tempfile.TemporaryDirectory())
        name = f"mockgateway-ca-{threaded.running.port}.pem"
        return str(write_ca_file(threaded.ca_pem, self._ca_dir, name))

    @contextlib.contextmanager
    def for_test(self, marker_kwargs: Mapping[str, Any]) -> Iterator[MockGateway]:
        wish = read_marker(marker_kwargs, self.options, self.setup)
        self.used += 1
        if wish.own_config is None:
            threaded = self.shared()
            gateway = threaded.gateway

            async def fresh() -> None:
                await gateway.set_scenario(None)  # undo a scenario an earlier test set at runtime
                await gateway.reset()

            _aim(threaded, wish.model)
            threaded.call(fresh)
            yield MockGateway(
                threaded,
                wish.api_key,
                wish.scenario,
                wish.check,
                wish.settings,
                self.ca_file(threaded),
                wish.model,
            )
            return
        from .._server import serve_in_thread

        with serve_in_thread(wish.own_config, port=0, tls=self.options.tls) as own:
            _aim(own, wish.model)
            ca_file = self.ca_file(own)
            yield MockGateway(
                own, wish.api_key, wish.scenario, wish.check, wish.settings, ca_file, wish.model
            )

    def close(self) -> None:
        self._stack.close()
        self._shared = None
