"""Wallets, holds and ledgers in the state file, moved by the money rules of
:mod:`mockgateway._billing`; each wallet's ledger keeps its last ``max_ledger_entries``.

Every operation is a few indexed statements, whatever the ledger's length: ``held`` is the stored
running sum, a hold is one row, and trimming the ledger deletes what the newest entry pushed out.
Wallets are cached in-process (bounded, least recently used out).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from decimal import Decimal

from .._billing import (
    LedgerEntry,
    WalletState,
    capture_entry,
    hold_entry,
    release_entry,
    set_entry,
)
from ._sqlite_journal import dumps
from ._sqlite_tx import Database, Step, bump
from ._types import Page


class _Wallet:
    __slots__ = ("first", "state")

    def __init__(self, state: WalletState, first: int) -> None:
        self.state = state
        self.first = first  # the ledger number of the oldest entry kept


class WalletTable:
    def __init__(self, db: Database, max_ledger: int, cache: int) -> None:
        self._db = db
        self.max_ledger = max_ledger
        self._cache_size = cache
        self._cache: OrderedDict[str, _Wallet] = OrderedDict()
        self._n: dict[str, int] = {}

    def load(self) -> None:
        self._cache.clear()
        self._n = {"wallets": self._db.one("SELECT count(*) FROM wallets")}

    def _of(self, key: str) -> _Wallet | None:
        cache = self._cache
        wallet = cache.get(key)
        if wallet is not None:
            cache.move_to_end(key)
            return wallet
        row = self._db.execute(
            "SELECT balance, held, charged, ledger_size, ledger_first FROM wallets WHERE key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        state = WalletState(
            key, Decimal(row[0]), held=Decimal(row[1]), charged=Decimal(row[2]), ledger_size=row[3]
        )
        wallet = _Wallet(state, row[4])
        cache[key] = wallet
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return wallet

    def _changing(self, step: Step, key: str) -> _Wallet:
        """The wallet a step is about to change: dropped from the cache if the step fails."""
        wallet = self._of(key)
        if wallet is None:
            raise KeyError(f"no wallet for {key!r}")
        step.undo.append(lambda: self._cache.pop(key, None))
        return wallet

    def _write(self, wallet: _Wallet, entry: LedgerEntry) -> None:
        """Append the entry, keep the last ``max_ledger`` entries, store the wallet."""
        db, state = self._db, wallet.state
        n = state.ledger_size + 1
        db.execute(
            "INSERT INTO ledger (key, n, data) VALUES (?, ?, ?)",
            (state.key, n, dumps(entry.to_dict())),
        )
        state.ledger_size = n
        cut = n - self.max_ledger
        if cut >= wallet.first:
            db.execute(
                "DELETE FROM ledger WHERE key = ? AND n BETWEEN ? AND ?",
                (state.key, wallet.first, cut),
            )
            wallet.first = cut + 1
        db.execute(
            "UPDATE wallets SET balance = ?, held = ?, charged = ?, ledger_size = ?,"
            " ledger_first = ? WHERE key = ?",
            (str(state.balance), str(state.held), str(state.charged), n, wallet.first, state.key),
        )

    @property
    def count(self) -> int:
        return self._n.get("wallets", 0)

    def get(self, key: str) -> WalletState | None:
        wallet = self._of(key)
        return None if wallet is None else wallet.state

    def open(self, key: str, balance: Decimal, at: float, note: str) -> WalletState:
        wallet = self._of(key)
        if wallet is not None:
            return wallet.state
        with self._db.tx() as step:
            self._db.execute(
                "INSERT INTO wallets (key, balance, held, ledger_size, ledger_first)"
                " VALUES (?, '0', '0', 0, 1)",
                (key,),
            )
            bump(step, self._n, "wallets", 1)
            wallet = self._changing(step, key)
            self._write(wallet, set_entry(wallet.state, balance, at, note))
        return wallet.state

    def set_balance(self, key: str, amount: Decimal, at: float, note: str) -> WalletState:
        if self._of(key) is None:
            return self.open(key, amount, at, note)
        with self._db.tx() as step:
            wallet = self._changing(step, key)
            self._write(wallet, set_entry(wallet.state, amount, at, note))
        return wallet.state

    def held_for(self, key: str, request_id: str) -> Decimal | None:
        row = self._db.execute(
            "SELECT amount FROM holds WHERE key = ? AND request_id = ?", (key, request_id)
        ).fetchone()
        return None if row is None else Decimal(row[0])

    def hold(self, key: str, request_id: str, amount: Decimal, at: float) -> bool:
        wallet = self._of(key)
        if wallet is None:
            raise KeyError(f"no wallet for {key!r}")
        if self.held_for(key, request_id) is not None:
            return True  # held already: kept as it is
        if not wallet.state.can_cover(amount):
            return False
        with self._db.tx() as step:
            wallet = self._changing(step, key)
            entry = hold_entry(wallet.state, request_id, amount, at)
            assert entry is not None  # covered, as checked above
            self._db.execute(
                "INSERT INTO holds (key, request_id, amount) VALUES (?, ?, ?)",
                (key, request_id, str(amount)),
            )
            self._write(wallet, entry)
        return True

    def capture(self, key: str, request_id: str, at: float) -> tuple[Decimal, Decimal] | None:
        held = self.held_for(key, request_id)
        if held is None:
            return None
        with self._db.tx() as step:
            wallet = self._changing(step, key)
            self._db.execute(
                "DELETE FROM holds WHERE key = ? AND request_id = ?", (key, request_id)
            )
            entry = capture_entry(wallet.state, request_id, held, at)
            self._write(wallet, entry)
        return entry.amount, held

    def release(self, key: str, request_id: str, at: float, note: str) -> Decimal:
        held = self.held_for(key, request_id)
        if held is None or self._of(key) is None:
            return Decimal(0)
        with self._db.tx() as step:
            wallet = self._changing(step, key)
            self._db.execute(
                "DELETE FROM holds WHERE key = ? AND request_id = ?", (key, request_id)
            )
            self._write(wallet, release_entry(wallet.state, request_id, held, at, note))
        return held

    def ledger(self, key: str, limit: int, cursor: str | None) -> Page[LedgerEntry]:
        wallet = self._of(key)
        if wallet is None:
            return Page([], 0)
        first = wallet.first
        start = max(first, int(cursor)) if cursor is not None else first
        rows = self._db.execute(
            "SELECT n, data FROM ledger WHERE key = ? AND n >= ? ORDER BY n LIMIT ?",
            (key, start, limit + 1),
        ).fetchall()
        items = [LedgerEntry.from_dict(json.loads(data)) for _, data in rows[:limit]]
        next_cursor = str(rows[limit][0]) if len(rows) > limit else None
        total = max(0, wallet.state.ledger_size - first + 1)
        return Page(items, total, next_cursor)

    def list(self, limit: int, cursor: str | None) -> Page[WalletState]:
        rows = self._db.execute(
            "SELECT key FROM wallets WHERE key > ? ORDER BY key LIMIT ?",
            (cursor if cursor is not None else "", limit + 1),
        ).fetchall()
        items = [w.state for (key,) in rows[:limit] if (w := self._of(key)) is not None]
        next_cursor = rows[limit - 1][0] if len(rows) > limit and limit else None
        return Page(items, self.count, next_cursor)
