"""The README's table of limits states what the code does: each default against the configuration
or the constant that sets it."""

from __future__ import annotations

import re
import resource
from pathlib import Path
from typing import Any

import pytest

from mockgateway import GatewayConfig
from mockgateway._billing import MAX_MONEY, MONEY_PLACES
from mockgateway._bodyparse import DEFAULT_BOUNDS, MAX_DEPTH, MAX_NUMBER_CHARS
from mockgateway._connections import DESCRIPTOR_HEADROOM, connection_limit
from mockgateway._outbound import WEBHOOK_BODY_CAP
from mockgateway.web._admin import MAX_PAGE

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
SECTION = README.split("## Limits and the outbound policy\n", 1)[1].split("\n## ", 1)[0]
ROWS = {
    cells[0]: cells[1:]
    for line in SECTION.splitlines()
    if line.startswith("| ") and not line.startswith("| what ")
    for cells in [[c.strip() for c in line.strip("|").split("|")]]
}


def numbers(cell: str) -> list[str]:
    return re.findall(r"`([0-9.]+)`", cell)


def setting(config: GatewayConfig, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(config, section), key)


def test_every_row_with_a_setting_states_that_settings_default() -> None:
    config = GatewayConfig()
    with_setting = {what: cells for what, cells in ROWS.items() if cells[1]}
    assert len(with_setting) >= 15
    for what, (default, named, _beyond) in with_setting.items():
        dotted = named.strip("`")
        value = setting(config, dotted)
        if dotted == "server.max_connections":
            assert value == 0  # 0: derived from the open-files limit, as the row says
            continue
        assert numbers(default)[0] == str(value), (what, default, value)


@pytest.mark.parametrize(
    ("what", "expected"),
    [
        ("an operator API body", [str(DEFAULT_BOUNDS.max_bytes), "65536"]),
        ("nesting in a JSON or TOML body", [str(MAX_DEPTH)]),
        ("one number in a body", [str(MAX_NUMBER_CHARS)]),
        ("money", ["0", str(MAX_MONEY), str(MONEY_PLACES)]),
        ("a webhook receiver's answer", [str(WEBHOOK_BODY_CAP)]),
        ("jobs, wallets, ledger or journal entries in one operator answer", [str(MAX_PAGE)]),
    ],
)
def test_rows_without_a_setting_state_the_codes_constant(what: str, expected: list[str]) -> None:
    assert numbers(ROWS[what][0]) == expected


def test_the_connection_rule_is_the_one_the_gateway_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert numbers(ROWS["connections at once"][0]) == [str(DESCRIPTOR_HEADROOM)]
    assert "(896 at 1,024)" in ROWS["connections at once"][0]
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (1024, 4096))
    assert connection_limit(0) == 896
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (256, 4096))
    assert connection_limit(0) == 256 - DESCRIPTOR_HEADROOM  # 64 is more than an eighth here
    assert connection_limit(5) == 5
