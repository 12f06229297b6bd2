"""The [inputs] and [media] TOML sections: defaults, values, and errors naming key and file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mockgateway._errors import ConfigError
from mockgateway._reader import Reader
from mockgateway.media import (
    InputPolicy,
    InputsConfig,
    MediaConfig,
    OutputMode,
    read_inputs_config,
    read_media_config,
)


def reader(table: dict[str, Any], prefix: str) -> Reader:
    return Reader(table, prefix, "gateway.toml")


def test_defaults_are_offline_and_the_real_render() -> None:
    assert read_inputs_config(reader({}, "inputs")) == InputsConfig()
    assert InputsConfig().policy is InputPolicy.OFFLINE
    assert read_media_config(reader({}, "media")) == MediaConfig()
    assert MediaConfig().mode is OutputMode.RENDER
    assert MediaConfig().link_ttl_seconds is None


def test_values_are_read(tmp_path: Path) -> None:
    inputs = read_inputs_config(
        reader(
            {
                "policy": "strict",
                "max_bytes": 1000,
                "timeout_seconds": 2.5,
                "max_redirects": 0,
                "max_connections": 4,
                "allow_hosts": ["Assets.Example.com"],
                "file_dir": str(tmp_path),
            },
            "inputs",
        )
    )
    assert inputs.policy is InputPolicy.STRICT
    assert (inputs.max_bytes, inputs.timeout_seconds, inputs.max_redirects) == (1000, 2.5, 0)
    assert inputs.max_connections == 4
    assert inputs.allow_hosts == ("assets.example.com",)
    assert inputs.file_dir == tmp_path.resolve()
    media = read_media_config(
        reader({"mode": "sample", "cache_entries": 3, "link_ttl_seconds": 60}, "media")
    )
    assert (media.mode, media.cache_entries, media.link_ttl_seconds) == (OutputMode.SAMPLE, 3, 60)


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"policy": "sometimes"}, "inputs.policy", "must be one of 'offline', 'strict', 'online'"),
        ({"max_bytes": 0}, "inputs.max_bytes", "must be at least 1"),
        ({"max_connections": 0}, "inputs.max_connections", "must be at least 1"),
        ({"timeout_seconds": "5"}, "inputs.timeout_seconds", "expected an integer or a number"),
        ({"allow_hosts": "example.com"}, "inputs.allow_hosts", "expected an array"),
        ({"allow_hosts": [1]}, "inputs.allow_hosts", "expected an array of host names"),
        ({"policy_typo": "strict"}, "inputs.policy_typo", "unknown key"),
    ],
)
def test_inputs_errors_name_key_and_file(table: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_inputs_config(reader(table, "inputs"))
    assert caught.value.key == key
    assert caught.value.source == "gateway.toml"
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"mode": "fast"}, "media.mode"),
        ({"cache_entries": -1}, "media.cache_entries"),
        ({"link_ttl_seconds": -5}, "media.link_ttl_seconds"),
        ({"colour": 1}, "media.colour"),
    ],
)
def test_media_errors_name_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_media_config(reader(table, "media"))
    assert caught.value.key == key


def test_gateway_config_reads_both_sections_from_toml(tmp_path: Path) -> None:
    from mockgateway._config import load_config

    path = tmp_path / "gateway.toml"
    path.write_text(
        '[inputs]\npolicy = "online"\nallow_hosts = ["cdn.example.com"]\n'
        '[media]\nmode = "sample"\nexecutor = "thread"\n'
    )
    config = load_config(path)
    assert config.inputs.policy is InputPolicy.ONLINE
    assert config.inputs.allow_hosts == ("cdn.example.com",)
    assert config.media.mode is OutputMode.SAMPLE
    assert config.media.executor.value == "thread"


def test_a_bad_value_in_a_toml_file_names_key_and_file(tmp_path: Path) -> None:
    from mockgateway._config import load_config

    path = tmp_path / "gateway.toml"
    path.write_text('[inputs]\npolicy = "never"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"key 'inputs.policy' in {path}: must be one of")


def test_the_gateway_uses_the_real_pipeline_with_its_config() -> None:
    from mockgateway._config import config_from_mapping
    from mockgateway._gateway import Gateway
    from mockgateway.media import AvPipeline

    config = config_from_mapping({"inputs": {"policy": "strict"}, "media": {"cache_entries": 2}})
    gateway = Gateway(config)
    assert isinstance(gateway.media, AvPipeline)
    assert gateway.media.inputs.policy is InputPolicy.STRICT
    assert gateway.media.media.cache_entries == 2
