"""Money is exact and bounded: one parser, a fixed scale and range, and nothing rounded silently.

Every place money enters (``PUT /_mock/wallets/{key}``, ``[keys]`` balances, model prices) goes
through :func:`mockgateway._billing.parse_money`; what it accepts reads back exactly and in the
documented pattern, what it refuses is a 400 (or a ConfigError) naming the field and the rule.
"""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockgateway import config_from_mapping, load_config
from mockgateway._billing import (
    MAX_MONEY,
    MAX_MONEY_TEXT,
    MONEY_PLACES,
    MONEY_TEXT,
    MoneyError,
    money_str,
    parse_money,
)
from mockgateway._errors import ConfigError

from .support import KEY, served

REPO = Path(__file__).resolve().parent.parent
OPERATOR = json.loads((REPO / "schemas" / "operator.openapi.json").read_text())
SCHEMAS = OPERATOR["components"]["schemas"]
MONEY_PATTERN = re.compile(SCHEMAS["Money"]["pattern"])

# amounts in range with at most six places, as Decimals
amounts = st.decimals(min_value=0, max_value=MAX_MONEY, places=MONEY_PLACES, allow_nan=False)

REFUSED = [
    ("1E-999999", "6 decimal places"),  # once accepted: every read was a 4 MB answer
    ("1E-78243250", "6 decimal places"),  # once read back as "0"
    ("1234567890.123456789012345678901", "6 decimal places"),  # 31 digits, once rounded
    ("0.0000001", "6 decimal places"),
    ("0.1234567", "6 decimal places"),
    ("1e13", "at most 1,000,000,000,000"),
    ("1000000000000.000001", "at most 1,000,000,000,000"),
    ("1E+999999999", "at most 1,000,000,000,000"),
    ("-1", "negative"),
    ("-0.01", "negative"),
    ("NaN", "such as"),
    ("Infinity", "such as"),
    ("", "such as"),
    (" 5", "such as"),
    ("5\n", "such as"),
    ("1_000", "such as"),
    ("\u0661\u0662", "such as"),  # Arabic-Indic digits Decimal() would take
    ("1" * (MAX_MONEY_TEXT + 1), "such as"),
    (True, "such as"),
    (None, "such as"),
    ([1], "such as"),
    (1e-7, "6 decimal places"),
    (0.1 + 0.2, "6 decimal places"),  # 0.30000000000000004 is not cut to 0.3
    (float("nan"), "such as"),
    (float("inf"), "such as"),
    (10**13, "at most"),
    (-(10**5000), "negative"),
]


@pytest.mark.parametrize(
    ("raw", "named"), REFUSED, ids=[f"{i}-{type(r).__name__}" for i, (r, _) in enumerate(REFUSED)]
)
def test_money_out_of_scale_or_range_is_refused_naming_the_rule(raw: object, named: str) -> None:
    with pytest.raises(MoneyError) as caught:
        parse_money(raw)
    assert named in str(caught.value)
    assert len(str(caught.value)) < 300  # a long input is not echoed back whole


@pytest.mark.parametrize(
    ("raw", "exact"),
    [
        ("25.00", "25.00"),
        ("+5", "5.00"),
        (".5", "0.50"),
        ("5.", "5.00"),
        ("0.165", "0.165"),
        ("0.000001", "0.000001"),
        ("1e3", "1000.00"),
        ("1.50000000000", "1.50"),  # trailing zeros are exact, not rounding
        ("-0", "0.00"),
        ("1000000000000", "1000000000000.00"),
        (0.16, "0.16"),
        (7, "7.00"),
        (1e12, "1000000000000.00"),
    ],
)
def test_money_in_range_is_exact(raw: object, exact: str) -> None:
    assert money_str(parse_money(raw)) == exact


@settings(max_examples=200, deadline=None)
@given(amounts)
def test_every_amount_in_range_round_trips_in_the_documented_pattern(amount: Decimal) -> None:
    for written in (money_str(amount), f"{amount:f}", str(amount)):
        assert parse_money(written) == amount
    assert MONEY_PATTERN.fullmatch(money_str(amount))


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789.eE+-", max_size=24),
        st.text(max_size=10),
        st.floats(),
        st.integers(),
        st.decimals().map(str),
    )
)
def test_anything_parses_to_money_in_range_or_is_refused_naming_the_rule(raw: object) -> None:
    try:
        value = parse_money(raw)
    except MoneyError as exc:
        refused = str(exc)
    else:
        refused = ""
    if refused:
        assert "money" in refused
        return
    assert 0 <= value <= MAX_MONEY
    assert value == value.quantize(Decimal(1).scaleb(-MONEY_PLACES))
    assert MONEY_PATTERN.fullmatch(money_str(value))


def test_the_operator_schema_states_the_same_money_rules() -> None:
    update = SCHEMAS["BalanceUpdate"]["properties"]["balance"]["anyOf"]
    text = next(s for s in update if s["type"] == "string")
    number = next(s for s in update if s["type"] == "number")
    assert text["pattern"] == MONEY_TEXT.pattern
    assert text["maxLength"] == MAX_MONEY_TEXT
    assert (number["minimum"], Decimal(number["maximum"])) == (0, MAX_MONEY)
    assert SCHEMAS["Money"]["pattern"] == r"^[0-9]+\.[0-9]{2," + str(MONEY_PLACES) + "}$"


# over HTTP --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "balance", ["1E-999999", "1E-78243250", "1234567890.123456789012345678901"]
)
async def test_a_balance_beyond_the_scale_is_a_400_and_changes_nothing(balance: str) -> None:
    async with served() as (_gw, client):
        before = await client.admin("GET", f"wallets/{KEY}")
        answer = await client.request(
            "PUT", f"/_mock/wallets/{KEY}", body={"balance": balance}, key=None
        )
        assert answer.status == 400, answer.raw
        message = answer.body["message"]
        assert message.startswith("balance: ")
        assert "6 decimal places" in message
        after = await client.request("GET", f"/_mock/wallets/{KEY}", key=None)
        assert after.body == before
        assert len(after.raw) < 1000


balances = st.one_of(
    amounts.map(str),
    amounts.map(money_str),
    st.text(alphabet="0123456789.eE+-", max_size=16),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(10**14), max_value=10**14),
)


@settings(max_examples=15, deadline=None)
@given(st.lists(balances, min_size=1, max_size=12))
def test_every_put_balance_reads_back_exactly_or_is_a_400_naming_balance(raws: list[Any]) -> None:
    async def run() -> None:
        async with served() as (_gw, client):
            path = f"/_mock/wallets/{KEY}"
            for raw in raws:
                answer = await client.request("PUT", path, body={"balance": raw}, key=None)
                try:
                    expected = money_str(parse_money(raw))
                except MoneyError:
                    assert answer.status == 400, (raw, answer.raw)
                    assert answer.body["message"].startswith("balance: ")
                    continue
                assert answer.status == 200, (raw, answer.raw)
                read = (await client.request("GET", path, key=None)).body
                assert read["balance"] == read["available"] == expected
                assert MONEY_PATTERN.fullmatch(read["balance"])

    asyncio.run(run())


# configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"keys": {"default_balance": "0.0000001"}}, "keys.default_balance"),
        ({"keys": {"default_balance": 1e13}}, "keys.default_balance"),
        (
            {"keys": {"accounts": [{"key": "k", "balance": "1E-999999"}]}},
            "keys.accounts[0].balance",
        ),
        (
            {"models": [{"id": "bytedance-omnihuman-v1-5-290", "price_per_second": 1e-7}]},
            "models[0].price_per_second",
        ),
        ({"models": [{"id": "m", "operation": "o", "price_per_second": "-1"}]}, "models[0]"),
    ],
)
def test_configured_money_out_of_scale_or_range_names_the_key(
    section: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(section, "gateway.toml")
    assert str(caught.value.key).startswith(key)
    assert caught.value.source == "gateway.toml"
    assert "money" in str(caught.value)


def test_configured_money_is_exact(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[keys]\ndefault_balance = 0.1\naccounts = [{ key = "k", balance = "12.345678" }]\n'
        '[[models]]\nid = "m"\noperation = "o"\nprice_per_second = 0.165\n'
    )
    config = load_config(path)
    assert config.keys.default_balance == Decimal("0.1")
    assert config.keys.accounts[0].balance == Decimal("12.345678")
    assert config.models[-1].price_per_second == Decimal("0.165")
    path.write_text('[keys]\ndefault_balance = "12.3456789"\n')
    with pytest.raises(ConfigError, match=r"keys.default_balance.*6 decimal places"):
        load_config(path)


@pytest.mark.parametrize("written", ["12345678901.1234567", "0.1234567", "1_000.0000001"])
def test_configured_money_written_as_a_toml_float_is_never_rounded(
    tmp_path: Path, written: str
) -> None:
    """tomllib reads a float before the money parser sees it; the file's text is what counts, so
    a seventh decimal place is refused, not rounded away by the float."""
    path = tmp_path / "gateway.toml"
    path.write_text(f"[keys]\ndefault_balance = {written}\n")
    with pytest.raises(ConfigError, match=r"keys.default_balance.*6 decimal places") as caught:
        load_config(path)
    assert written in str(caught.value)
    path.write_text("[keys]\ndefault_balance = 12345678901.123456\n")
    assert load_config(path).keys.default_balance == Decimal("12345678901.123456")
