"""A client cannot grow what the gateway keeps without bound, over loopback: past ``[keys]
max_wallets`` a key with no wallet yet is refused with API management's 403 naming the setting
(keys with wallets and configured accounts go on working; a reset makes room again), and past
``[lifecycle] max_active_jobs`` unfinished jobs a generate is the documented 429 until some end."""

from __future__ import annotations

import pytest

from mockgateway import ConfigError, config_from_mapping

from .support import manual_config, served


async def test_new_keys_past_the_bound_are_refused_and_wallets_stay_at_it() -> None:
    config = manual_config(
        keys={"max_wallets": 3, "accounts": [{"key": "team-key", "balance": "5.00"}]}
    )
    async with served(config) as (_gw, client):
        for n in range(2):  # the configured account's wallet is the third
            assert (await client.generate(key=f"made-up-{n}")).status == 202
        refused = [await client.generate(key=f"made-up-{n}") for n in range(2, 42)]
        assert {a.status for a in refused} == {403}
        assert refused[0].body == {
            "statusCode": 403,
            "message": "This gateway keeps at most 3 wallets ([keys] max_wallets) and has no"
            " room for a new key's wallet: reset it, or raise the bound.",
        }
        wallets = await client.admin("GET", "wallets")
        assert wallets["total"] == 3
        assert {w["key"] for w in wallets["wallets"]} == {"team-key", "made-up-0", "made-up-1"}
        # keys that have a wallet, and the configured account, are served as before
        assert (await client.generate(key="made-up-1")).status == 202
        assert (await client.generate(key="team-key")).status == 202
        # a refused key holds nothing: its poll of someone else's job is the usual 404
        assert (await client.status("no-such-request", key="made-up-9")).status == 404
        await client.admin("POST", "reset")
        assert (await client.generate(key="made-up-41")).status == 202


async def test_an_operator_balance_for_a_new_key_past_the_bound_is_refused_too() -> None:
    async with served(manual_config(keys={"max_wallets": 1})) as (_gw, client):
        assert (await client.generate(key="first")).status == 202
        answer = await client.request(
            "PUT", "/_mock/wallets/second", body={"balance": "1.00"}, key=None
        )
        assert answer.status == 403
        assert "[keys] max_wallets" in answer.body["message"]
        assert (await client.admin("GET", "wallets"))["total"] == 1


@pytest.mark.parametrize("setting", ["keys.max_wallets", "lifecycle.max_active_jobs"])
@pytest.mark.parametrize("bad", [0, -1, "many", 10**8])
def test_a_bound_that_is_not_a_positive_count_is_a_config_error(setting: str, bad: object) -> None:
    section, name = setting.split(".")
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        config_from_mapping({section: {name: bad}})


async def test_unfinished_jobs_past_the_bound_are_a_429_until_some_end() -> None:
    async with served(manual_config(lifecycle={"max_active_jobs": 4})) as (_gw, client):
        for n in range(4):
            assert (await client.generate(key=f"key-{n % 2}")).status == 202
        refused = await client.generate(key="another-key")
        assert refused.status == 429
        assert refused.headers["Retry-After"] == "1"
        assert refused.body == {
            "statusCode": 429,
            "message": "Rate limit is exceeded: the gateway already holds 4 unfinished jobs"
            " ([lifecycle] max_active_jobs). Try again in 1 seconds.",
        }
        # the refused submit held nothing and made no job
        assert (await client.admin("GET", "jobs"))["total"] == 4
        wallet = await client.admin("GET", "wallets/another-key")
        assert (wallet["held"], wallet["available"]) == ("0.00", "10.00")
        await client.admin("POST", "clock/advance", {"seconds": 10})  # all four end
        assert (await client.generate(key="another-key")).status == 202
