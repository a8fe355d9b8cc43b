"""USDC-margined perpetuals next to the USDT ones, in the same emulator account.

Binance lists USDC-margined perpetuals (``BTCUSDC``: ``quoteAsset``/``marginAsset`` USDC) beside
the USDT ones, and in Single-Asset mode each margin asset has its own wallet: a USDC position
draws margin from the USDC wallet and books its P&L, fees and funding in USDC, never touching
the USDT wallet (the account's ``total*`` figures are "only for USDT asset", USDⓈ-M "Account
Information V3"). A user may trade such a contract by hand in the account a bot trades.

The emulator stands for that with a second simulated core: the USDT core (the one backtests and
the paper executor share, untouched) and a USDC core over the USDC variants, priced from the
USDT series of the same base (there is no USDC data; the two contracts track the same index).
:class:`SplitExchange` routes every per-symbol call to the core that margins the symbol and
merges the account-wide lists; everything else is the USDT core's.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bot.core.instrument import Instrument

USDC = "USDC"
USDT = "USDT"
#: Trade and income ids of the USDC wallet start here, so the account never shows one id twice.
USDC_ID_BASE = 500_000_000_000


def usdc_symbol(usdt_symbol: str) -> str:
    """``BTCUSDT`` -> ``BTCUSDC`` (ValueError for a symbol that is not USDT-margined)."""
    if not usdt_symbol.endswith(USDT):
        raise ValueError(f"{usdt_symbol!r} is not a USDT-margined symbol: no USDC variant")
    return usdt_symbol[: -len(USDT)] + USDC


def usdc_instrument(inst: Instrument) -> Instrument:
    """The USDC-margined twin of a USDT instrument: same filters and brackets, quote USDC."""
    return replace(inst, symbol=usdc_symbol(inst.symbol), quote=USDC)


class _Variant:
    """A symbol history seen under another symbol and instrument (no copy of the arrays)."""

    def __init__(self, source: Any, instrument: Instrument) -> None:
        self._source = source
        self.instrument = instrument
        self.symbol = instrument.symbol

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)


class VariantStore:
    """The replayed store plus USDC variants that read their USDT symbol's history."""

    def __init__(self, store: Any, usdt_symbols: list[str]) -> None:
        self._store = store
        self._variants = {usdc_symbol(s): _Variant(store[s], usdc_instrument(store[s].instrument))
                          for s in usdt_symbols}

    @property
    def symbols(self) -> list[str]:
        return [*self._store.symbols, *self._variants]

    def __getitem__(self, symbol: str) -> Any:
        variant = self._variants.get(symbol)
        return variant if variant is not None else self._store[symbol]

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._variants or symbol in self._store

    def __iter__(self) -> Any:
        return iter(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)

    def get(self, symbol: str) -> Any:
        return self._variants.get(symbol) or self._store.get(symbol)

    def __getattr__(self, name: str) -> Any:  # issues, root ... of the real store
        return getattr(self._store, name)


class SplitExchange:
    """The USDT core and the USDC core as one account (see the module docstring).

    Per-symbol calls go to the core that lists the symbol; lists of the whole account are
    merged; anything else (balance, transfers, the wallet, ``fill_model``, the account's BNB
    wallet) is the USDT core's, so code written for one core keeps working unchanged.
    """

    def __init__(self, usdt: Any, usdc: Any, usdc_balance: float) -> None:
        self.usdt = usdt
        self.usdc = usdc
        self.usdc_balance = float(usdc_balance)
        self._share_bnb()

    def _share_bnb(self) -> None:
        """One BNB wallet pays the fees of both margin assets, as on Binance."""
        self.usdc.account.other_wallets = self.usdt.account.other_wallets

    def core(self, symbol: str) -> Any:
        return self.usdc if symbol in self.usdc.instruments else self.usdt

    def __getattr__(self, name: str) -> Any:
        return getattr(self.usdt, name)

    # -- market input (the driver) -------------------------------------------------------------
    def on_bar(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).on_bar(symbol, *args, **kwargs)

    def on_funding(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).on_funding(symbol, *args, **kwargs)

    def set_price(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).set_price(symbol, *args, **kwargs)

    def advance_time(self, ts_ms: int) -> None:
        self.usdt.advance_time(ts_ms)
        self.usdc.advance_time(ts_ms)

    # -- per-symbol requests -------------------------------------------------------------------
    def place_order(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).place_order(symbol, *args, **kwargs)

    def cancel_order(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).cancel_order(symbol, *args, **kwargs)

    def cancel_all(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).cancel_all(symbol, *args, **kwargs)

    def get_order(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).get_order(symbol, *args, **kwargs)

    def set_leverage(self, symbol: str, leverage: int) -> None:
        self.core(symbol).set_leverage(symbol, leverage)

    def leverage(self, symbol: str) -> int:
        return self.core(symbol).leverage(symbol)

    def set_margin_mode(self, symbol: str, mode: Any) -> None:
        self.core(symbol).set_margin_mode(symbol, mode)

    def margin_mode(self, symbol: str) -> Any:
        return self.core(symbol).margin_mode(symbol)

    def position(self, symbol: str) -> Any:
        return self.core(symbol).position(symbol)

    def user_trades(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        return self.core(symbol).user_trades(symbol, *args, **kwargs)

    # -- the whole account ---------------------------------------------------------------------
    def _both(self, symbol: str | None, call: str, *args: Any, key: Any, **kwargs: Any) -> list[Any]:
        if symbol is not None:
            return getattr(self.core(symbol), call)(symbol, *args, **kwargs)
        return sorted([*getattr(self.usdt, call)(None, *args, **kwargs),
                       *getattr(self.usdc, call)(None, *args, **kwargs)], key=key)

    def open_orders(self, symbol: str | None = None, conditional: bool | None = None) -> list[Any]:
        return self._both(symbol, "open_orders", conditional=conditional, key=lambda o: (o.created_ms, o.seq))

    def all_orders(self, symbol: str | None = None, conditional: bool | None = None) -> list[Any]:
        return self._both(symbol, "all_orders", conditional=conditional, key=lambda o: (o.created_ms, o.seq))

    def income(self, symbol: str | None = None, *args: Any, **kwargs: Any) -> list[Any]:
        return self._both(symbol, "income", *args, key=lambda r: (r.ts_ms, r.tran_id), **kwargs)

    def force_orders(self, symbol: str | None = None, *args: Any, **kwargs: Any) -> list[Any]:
        return self._both(symbol, "force_orders", *args, key=lambda o: (o.updated_ms, o.order_id), **kwargs)

    def positions(self) -> list[Any]:
        return sorted([*self.usdt.positions(), *self.usdc.positions()], key=lambda p: p.symbol)

    def drain_events(self) -> list[Any]:
        return [*self.usdt.drain_events(), *self.usdc.drain_events()]

    def asset_balances(self) -> list[Any]:
        """The USDC wallet as a :class:`~bot.sim.models.SimBalance` (the USDT one is ``balance()``)."""
        return [replace(self.usdc.balance(), asset=USDC)]

    @property
    def percent_price_check(self) -> bool:
        return bool(self.usdt.percent_price_check)

    @percent_price_check.setter
    def percent_price_check(self, value: bool) -> None:
        self.usdt.percent_price_check = self.usdc.percent_price_check = bool(value)

    def reset(self, balance: float) -> None:
        self.usdt.reset(balance)
        self.usdc.reset(self.usdc_balance)
        self._share_bnb()
