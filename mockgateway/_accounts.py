"""Keys and money: who may call, and each key's wallet, over the store.

Which keys are valid is configuration (a strict gateway knows its accounts; any key works in open
mode; ``mock-<name>`` keys are test cards valid everywhere). Wallets live in the store: opened
with the configured or default balance on first use, set by the operator, held, charged and
released by the lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeGuard

from ._billing import WalletState
from ._clock import Clock
from ._config import GatewayConfig, KeyMode
from ._errors import InvalidKey, MissingKey, TooManyWallets
from .store import Store


class Accounts:
    def __init__(
        self,
        config: GatewayConfig,
        store: Store,
        clock: Clock,
        is_scenario_key: Callable[[str], bool],
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self._is_scenario_key = is_scenario_key
        self._configured = {a.key: a.balance for a in config.keys.accounts}
        self._open_mode = config.keys.mode is not KeyMode.STRICT  # any key works: decided once

    def admitted(self, key: str | None) -> TypeGuard[str]:
        """Whether ``key`` is valid by configuration alone (open mode, or a configured key): the
        status poll's check, with no store to ask. False means ask :meth:`admit`."""
        if not key or key.isspace():
            return False
        return self._open_mode or key in self._configured

    async def admit(self, key: str | None) -> str:
        """A valid key, or :class:`MissingKey` / :class:`InvalidKey`, without opening a wallet:
        a status poll needs none, and one per key a client makes up would grow without bound.
        In strict mode a key is valid when configured, a scenario key, or given a wallet by the
        operator."""
        if key is None or not key.strip():
            raise MissingKey()
        if self._open_mode or key in self._configured:
            return key
        if self._is_scenario_key(key) or await self.store.get_wallet(key) is not None:
            return key
        raise InvalidKey()

    async def authenticate(self, key: str | None) -> WalletState:
        """The wallet of a valid key (opened on first use)."""
        if key and not key.isspace() and (self._open_mode or key in self._configured):
            wallet = await self.store.get_wallet(key)  # a known key's wallet: one read
            if wallet is not None:
                return wallet
        return await self.wallet(await self.admit(key))

    async def wallet(self, key: str) -> WalletState:
        """The key's wallet, made with its configured (or the default) balance on first use."""
        wallet = await self.store.get_wallet(key)
        if wallet is not None:
            return wallet
        configured = self._configured.get(key)
        if configured is not None:
            return await self.store.open_wallet(key, configured, self.clock.now(), "configured")
        # A client can make up keys without end: each new one's wallet is kept, so they are
        # bounded (configured accounts always open, above). With replicas, opens racing each
        # other may pass the bound by as many as are in flight at once.
        limit = self.config.keys.max_wallets
        if await self.store.wallet_count() >= limit:
            raise TooManyWallets(limit)
        balance = self.config.keys.default_balance
        return await self.store.open_wallet(key, balance, self.clock.now(), "opened")

    async def set_balance(self, key: str, amount: Decimal) -> WalletState:
        await self.wallet(key)
        return await self.store.set_balance(key, amount, self.clock.now(), "set by operator")

    async def open_configured(self) -> None:
        """Open every configured account that has no wallet yet (at start and after a reset;
        a store that kept wallets across a restart keeps their balances)."""
        now = self.clock.now()
        for key, balance in self._configured.items():
            if await self.store.get_wallet(key) is None:
                await self.store.open_wallet(key, balance, now, "configured")
