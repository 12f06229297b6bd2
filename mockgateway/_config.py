"""Configuration as data: frozen values, loaded from TOML and validated once at start.

Every error names the offending key and the file it came from. No other module reads files or
environment variables for settings; they receive a :class:`GatewayConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._bodyparse import toml_config
from ._clock import ClockMode
from ._errors import ConfigError
from ._journal import MAX_BODY_BYTES, MAX_BYTES
from ._reader import Reader
from ._token import TOKEN_RULE, token_ok
from .faults import FaultsConfig, read_faults
from .media._config import InputsConfig, MediaConfig, read_inputs_config, read_media_config
from .models import ModelSpec, builtin_models, read_models
from .store._config import StateConfig, read_state


class KeyMode(StrEnum):
    OPEN = "open"
    STRICT = "strict"


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountConfig:
    key: str
    balance: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None
    media_base_url: str | None = None
    max_body_bytes: int = 64 * 1024
    header_timeout_seconds: float = 10.0  # a request's headers, from its first byte
    body_timeout_seconds: float = 30.0  # a request's body, from the end of its headers
    keepalive_timeout_seconds: float = 75.0  # an idle connection between requests
    max_connections: int = 0  # at once; 0: the open-files limit less some headroom
    shutdown_timeout_seconds: float = 1.0  # how long answers in flight may finish at shutdown
    operator_token: str | None = None  # set: /_mock/ (but samples and the page's files) needs it


@dataclass(frozen=True, slots=True, kw_only=True)
class LifecycleConfig:
    queue_seconds: float = 1.0
    processing_seconds: float = 2.0
    default_resolution: str = "1080p"
    media_type: str = "video/mp4"
    output_filename: str = "output.mp4"
    max_active_jobs: int = 100_000  # jobs not yet ended, all keys together


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockConfig:
    mode: ClockMode = ClockMode.REAL
    speed: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class KeysConfig:
    mode: KeyMode = KeyMode.OPEN
    default_balance: Decimal = Decimal("10.00")
    accounts: tuple[AccountConfig, ...] = ()
    # wallets a key that is not configured may open (each new key in open mode opens one)
    max_wallets: int = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class BillingConfig:
    charge_failed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WebhookConfig:
    max_attempts: int = 5
    initial_backoff_seconds: float = 1.0
    backoff_factor: float = 2.0
    timeout_seconds: float = 5.0
    allow_hosts: tuple[str, ...] = ()
    per_transition: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalConfig:
    enabled: bool = True
    max_entries: int = 10_000
    max_bytes: int = MAX_BYTES  # all entries kept, estimated
    max_body_bytes: int = MAX_BODY_BYTES  # of each request or response body


@dataclass(frozen=True, slots=True, kw_only=True)
class GatewayConfig:
    server: ServerConfig = field(default_factory=ServerConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    clock: ClockConfig = field(default_factory=ClockConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    billing: BillingConfig = field(default_factory=BillingConfig)
    webhooks: WebhookConfig = field(default_factory=WebhookConfig)
    journal: JournalConfig = field(default_factory=JournalConfig)
    inputs: InputsConfig = field(default_factory=InputsConfig)
    media: MediaConfig = field(default_factory=MediaConfig)
    models: tuple[ModelSpec, ...] = field(default_factory=builtin_models)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    state: StateConfig = field(default_factory=StateConfig)
    source: str = "<defaults>"

    def with_(self, **changes: Any) -> GatewayConfig:
        return replace(self, **changes)


MAX_WAIT_SECONDS = 1e6  # a phase, a backoff or a timeout: about 11.6 days at most


def config_from_mapping(
    data: Mapping[str, Any], source: str = "<mapping>", base_dir: Path | None = None
) -> GatewayConfig:
    """The configuration a TOML table describes; files it names (a model's request schema) are
    read relative to ``base_dir`` (the configuration file's directory; default: the current
    one)."""
    root = Reader(data, "", source)

    s = root.sub("server")
    server = ServerConfig(
        host=s.get("host", str, "127.0.0.1"),
        port=s.integer("port", 8080),
        public_base_url=s.get("public_base_url", str, "") or None,
        media_base_url=s.get("media_base_url", str, "") or None,
        max_body_bytes=s.integer("max_body_bytes", 64 * 1024, minimum=256),
        header_timeout_seconds=s.number("header_timeout_seconds", 10.0, minimum=0.001),
        body_timeout_seconds=s.number("body_timeout_seconds", 30.0, minimum=0.001),
        keepalive_timeout_seconds=s.number("keepalive_timeout_seconds", 75.0, minimum=0.001),
        max_connections=s.integer("max_connections", 0),
        shutdown_timeout_seconds=s.number("shutdown_timeout_seconds", 1.0),
        operator_token=s.get("operator_token", str, "") or None,
    )
    s.finish()
    if server.port > 65535:
        raise s.error("port", f"must be at most 65535, got {server.port}")
    if server.operator_token is not None and not token_ok(server.operator_token):
        raise s.error("operator_token", TOKEN_RULE)

    lc = root.sub("lifecycle")
    resolution = lc.get("default_resolution", str, "1080p")
    if resolution not in ("480p", "720p", "1080p"):
        raise lc.error("default_resolution", f"must be 480p, 720p or 1080p, got {resolution!r}")
    lifecycle = LifecycleConfig(
        queue_seconds=lc.number("queue_seconds", 1.0, maximum=MAX_WAIT_SECONDS),
        processing_seconds=lc.number("processing_seconds", 2.0, maximum=MAX_WAIT_SECONDS),
        default_resolution=resolution,
        media_type=lc.get("media_type", str, "video/mp4"),
        output_filename=lc.get("output_filename", str, "output.mp4"),
        max_active_jobs=lc.integer("max_active_jobs", 100_000, minimum=1, maximum=10**7),
    )
    lc.finish()

    c = root.sub("clock")
    clock = ClockConfig(
        mode=c.choice("mode", ClockMode, ClockMode.REAL),
        speed=c.number("speed", 1.0, minimum=1e-6, maximum=1e6),
    )
    c.finish()

    k = root.sub("keys")
    accounts = []
    for row in k.tables("accounts"):
        key = row.get("key", str, "")
        if not key:
            raise row.error("key", "every account needs a non-empty key")
        accounts.append(AccountConfig(key=key, balance=row.money("balance", Decimal("10.00"))))
        row.finish()
    keys = KeysConfig(
        mode=k.choice("mode", KeyMode, KeyMode.OPEN),
        default_balance=k.money("default_balance", Decimal("10.00")),
        accounts=tuple(accounts),
        max_wallets=k.integer("max_wallets", 100_000, minimum=1, maximum=10**7),
    )
    k.finish()

    b = root.sub("billing")
    billing = BillingConfig(charge_failed=b.get("charge_failed", bool, False))
    b.finish()

    w = root.sub("webhooks")
    hosts = w.get("allow_hosts", list, [])
    if not all(isinstance(h, str) for h in hosts):
        raise w.error("allow_hosts", "expected an array of host names")
    webhooks = WebhookConfig(
        max_attempts=w.integer("max_attempts", 5, minimum=1, maximum=100),
        initial_backoff_seconds=w.number("initial_backoff_seconds", 1.0, maximum=MAX_WAIT_SECONDS),
        backoff_factor=w.number("backoff_factor", 2.0, minimum=1.0, maximum=100.0),
        timeout_seconds=w.number("timeout_seconds", 5.0, minimum=0.001, maximum=MAX_WAIT_SECONDS),
        allow_hosts=tuple(hosts),
        per_transition=w.get("per_transition", bool, False),
    )
    w.finish()

    j = root.sub("journal")
    journal = JournalConfig(
        enabled=j.get("enabled", bool, True),
        max_entries=j.integer("max_entries", 10_000, minimum=1),
        max_bytes=j.integer("max_bytes", MAX_BYTES, minimum=64 * 1024),
        max_body_bytes=j.integer("max_body_bytes", MAX_BODY_BYTES, minimum=256),
    )
    j.finish()

    inputs = read_inputs_config(root.sub("inputs"))
    media = read_media_config(root.sub("media"))

    models = read_models(
        root,
        base_dir,
        builtin_models(lifecycle.default_resolution),
        default_resolution=lifecycle.default_resolution,
    )

    faults = read_faults(root)
    state = read_state(root.sub("state"), root.sub("retention"))
    root.finish()
    return GatewayConfig(
        server=server,
        lifecycle=lifecycle,
        clock=clock,
        keys=keys,
        billing=billing,
        webhooks=webhooks,
        journal=journal,
        inputs=inputs,
        media=media,
        models=tuple(models),
        faults=faults,
        state=state,
        source=source,
    )


def load_config(path: str | Path) -> GatewayConfig:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror}", source=str(path)) from None
    config = config_from_mapping(toml_config(raw, str(path)), str(path), path.parent)
    state = config.state
    if state.path is not None and not Path(state.path).is_absolute():  # beside the file
        config = config.with_(state=replace(state, path=str(path.parent / state.path)))
    return config
