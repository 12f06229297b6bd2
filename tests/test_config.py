from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from mockgateway import ConfigError, GatewayConfig, config_from_mapping, load_config
from mockgateway._config import KeyMode


def test_defaults_need_no_file() -> None:
    config = GatewayConfig()
    assert config.server.port == 8080
    assert config.lifecycle.queue_seconds == 1.0
    assert config.lifecycle.processing_seconds == 2.0
    assert config.keys.mode is KeyMode.OPEN
    assert config.models[0].price_per_second == Decimal("0.16")


def test_a_full_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "gw.toml"
    path.write_text(
        """
[server]
port = 9000
[lifecycle]
queue_seconds = 0.5
[keys]
mode = "strict"
accounts = [{ key = "alice", balance = "2.40" }]
[[models]]
id = "acme-model"
operation = "acme-request"
price_per_second = 0.05
"""
    )
    config = load_config(path)
    assert config.server.port == 9000
    assert config.keys.accounts[0].balance == Decimal("2.40")
    assert [m.id for m in config.models] == ["bytedance-omnihuman-v1-5-290", "acme-model"]
    assert config.models[1].price_per_second == Decimal("0.05")


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        ({"server": {"port": "80"}}, "server.port", "expected an integer"),
        ({"server": {"prot": 80}}, "server.prot", "unknown key"),
        ({"lifecycle": {"queue_seconds": -1}}, "lifecycle.queue_seconds", "at least 0"),
        ({"keys": {"mode": "closed"}}, "keys.mode", "must be one of 'open', 'strict'"),
        ({"keys": {"default_balance": "ten"}}, "keys.default_balance", "amount of money"),
        ({"keys": {"accounts": [{"balance": 1}]}}, "keys.accounts[0].key", "non-empty key"),
        ({"models": [{"id": "new"}]}, "models[0].operation", "operation"),
        ({"webhooks": {"allow_hosts": [1]}}, "webhooks.allow_hosts", "host names"),
        ({"clock": {"mode": "fast"}}, "clock.mode", "must be one of"),
        ({"bogus": {}}, "bogus", "unknown key"),
        ({"journal": {"max_body_bytes": 10}}, "journal.max_body_bytes", "at least 256"),
        ({"journal": {"max_bytes": 1000}}, "journal.max_bytes", "at least 65536"),
    ],
)
def test_errors_name_the_key_and_the_file(data: dict[str, object], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(data, "scenario.toml")
    assert caught.value.key == key
    assert f"key '{key}' in scenario.toml" in str(caught.value)
    assert message in str(caught.value)


def test_unreadable_and_invalid_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load_config(bad)
