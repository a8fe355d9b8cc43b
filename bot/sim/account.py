"""The USDT futures account: wallet, one-way isolated positions, margin and the ledgers.

Bookkeeping rules (Binance USDⓈ-M, one-way mode, isolated margin):

* ``wallet`` is the whole wallet balance, including the margin locked in isolated positions.
  Every change to it is an income row in the margin asset, so
  ``wallet == deposits + sum(income rows in that asset)`` always holds
  (REALIZED_PNL, COMMISSION, FUNDING_FEE, INSURANCE_CLEAR, TRANSFER).
* A transfer between the futures wallet and another wallet (spot, funding) changes the wallet
  (not ``deposits``: it is an income row, so the rule above holds) and is booked as a
  ``TRANSFER`` income row with no symbol, as Binance's ``GET /fapi/v1/income`` lists it; an
  outgoing transfer may take only the free balance (Binance's max transferable amount of the
  futures wallet is its available balance).
* Opening ``q`` contracts at ``p`` with leverage ``L`` moves ``q * p / L`` from the free balance
  into the position's isolated wallet; the commission is paid from the free balance.
* Reducing a position releases the same fraction of its isolated wallet back to the free
  balance; the realised P&L goes to the wallet.
* Funding is paid into / taken from the wallet *and* the isolated wallet, so it moves the
  liquidation price.
* ``available = wallet - isolated wallets - margin reserved by resting opening orders``.
* Fees in BNB (Binance's "BNB burn", ``POST /fapi/v1/feeBurn``), off by default: while
  :attr:`Account.bnb_price` is set, a fill's commission is charged from the BNB wallet as
  ``USDT fee x (1 - 10%) / BNB price`` (Binance's USDⓈ-M BNB discount) and booked as a
  COMMISSION row in BNB; the USDT wallet does not pay it. With too little BNB, Binance charges
  the fee in the margin asset, and so does this account. Off, nothing changes: backtests
  and the paper executor never set it.
* ``asset`` is the margin asset (USDT; the emulator keeps a USDC-margined account apart with
  ``asset="USDC"``, as Binance keeps one wallet per asset in Single-Asset mode).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.enums import OrderSide
from bot.core.instrument import Instrument
from bot.core.precision import Rounding
from bot.sim.models import IncomeType, SimFill, SimIncome

ASSET = "USDT"
BNB = "BNB"
#: Binance USDⓈ-M: paying futures fees in BNB takes 10% off (fee discount, "BNB burn").
BNB_FEE_DISCOUNT = 0.10


@dataclass(slots=True)
class Position:
    """Mutable one-way position: ``qty`` is signed (negative = short), never zero while stored."""

    symbol: str
    qty: float
    entry: float
    iso_wallet: float
    leverage: int
    updated_ms: int

    @property
    def sign(self) -> int:
        return 1 if self.qty > 0 else -1

    @property
    def side_name(self) -> str:
        return "long" if self.qty > 0 else "short"


class Account:
    """Wallet, positions and ledgers. Knows nothing about orders or market data."""

    def __init__(self, balance: float, *, asset: str = ASSET, id_base: int = 0) -> None:
        self.asset = asset
        #: first trade / income ids are ``id_base + 1``: two accounts of one emulator never share an id
        self.id_base = int(id_base)
        #: BNB's USDT price now (None: unknown); set while fees are paid in BNB (see module docstring)
        self.bnb_price: Callable[[], float | None] | None = None
        self.reset(balance)

    def reset(self, balance: float) -> None:
        if not balance >= 0:
            raise ValueError(f"balance must be a number >= 0, got {balance!r}")
        self.wallet = float(balance)
        self.deposits = float(balance)
        self.reserved = 0.0  # margin held by resting opening limit orders
        self.positions: dict[str, Position] = {}
        self.fills: list[SimFill] = []
        #: income rows in time order, and their times (so a "since" read bisects instead of scanning
        #: the whole history: the engine reads income every cycle)
        self.incomes: list[SimIncome] = []
        self._income_ts: list[int] = []
        self._next_trade_id = self.id_base + 1
        self._next_tran_id = self.id_base + 1
        #: wallets of other assets than the margin asset (the BNB that pays fees), never margin
        self.other_wallets: dict[str, float] = {}

    # ----------------------------------------------------------------- balances
    @property
    def isolated_total(self) -> float:
        return sum(p.iso_wallet for p in self.positions.values())

    @property
    def available(self) -> float:
        return self.wallet - self.isolated_total - self.reserved

    def adjust_deposit(self, amount: float) -> None:
        """Deposit (positive) or withdraw (negative) free balance."""
        if amount < 0 and -amount > self.available + 1e-9:
            raise ValueError(f"cannot withdraw {-amount}: only {self.available} is available")
        self.wallet += amount
        self.deposits += amount

    def transfer(self, amount: float, ts_ms: int, asset: str = ASSET) -> SimIncome:
        """Move ``amount`` into (+) or out of (-) the futures wallet and book a TRANSFER row.

        Why a row and not a quiet balance change: Binance lists every transfer in the income
        history, and that is how a bot tells a withdrawal from a loss. An outgoing transfer larger
        than the free balance is refused (ValueError) before anything changes: Binance never lets
        a transfer take margin locked in positions or orders.
        """
        if amount < 0 and -amount > self.available + 1e-9:
            raise ValueError(f"cannot transfer out {-amount:g} {asset}: only {self.available:g} is available")
        if asset != self.asset:
            return self._book_other(asset, "", IncomeType.TRANSFER, amount, ts_ms, None)
        income = SimIncome(self._next_tran_id, "", IncomeType.TRANSFER, amount, asset, ts_ms, None)
        self._next_tran_id += 1
        self.wallet += amount
        self._record_income(income)
        return income

    def _book_other(self, asset: str, symbol: str, income_type: IncomeType, amount: float, ts_ms: int,
                    trade_id: int | None) -> SimIncome:
        """Move ``amount`` of another asset (BNB) and record it; the margin wallet is untouched.
        An outgoing amount larger than that wallet is refused (ValueError), nothing changes."""
        held = self.other_wallets.get(asset, 0.0)
        if amount < 0 and -amount > held + 1e-12:
            raise ValueError(f"cannot take {-amount:g} {asset}: the {asset} wallet holds {held:g}")
        income = SimIncome(self._next_tran_id, symbol, income_type, amount, asset, ts_ms, trade_id)
        self._next_tran_id += 1
        self.other_wallets[asset] = held + amount
        self._record_income(income)
        return income

    def fee_in_bnb(self, fee: float) -> float | None:
        """The BNB a commission of ``fee`` (margin asset) costs while BNB pays fees, or None when it
        is paid in the margin asset (BNB fees off, no BNB price, or too little BNB: Binance then
        charges the margin asset)."""
        if fee <= 0 or self.bnb_price is None:
            return None
        price = self.bnb_price()
        if price is None or not price > 0:
            return None
        amount = fee * (1 - BNB_FEE_DISCOUNT) / price
        return amount if amount <= self.other_wallets.get(BNB, 0.0) + 1e-12 else None

    # ------------------------------------------------------------------ ledgers
    def book(self, symbol: str, income_type: IncomeType, amount: float, ts_ms: int,
             trade_id: int | None = None) -> SimIncome:
        """Move ``amount`` into the wallet and record it as an income row."""
        income = SimIncome(self._next_tran_id, symbol, income_type, amount, self.asset, ts_ms, trade_id)
        self._next_tran_id += 1
        self.wallet += amount
        self._record_income(income)
        return income

    def _record_income(self, income: SimIncome) -> None:
        """Insert keeping time order (a transfer may carry an earlier time than the last row)."""
        at = bisect.bisect_right(self._income_ts, income.ts_ms)
        self._income_ts.insert(at, income.ts_ms)
        self.incomes.insert(at, income)

    def incomes_since(self, start_ms: int | None) -> list[SimIncome]:
        """Income rows with ``ts_ms >= start_ms`` (all rows without a bound), in time order."""
        if start_ms is None:
            return list(self.incomes)
        return self.incomes[bisect.bisect_left(self._income_ts, start_ms):]

    # -------------------------------------------------------------------- fills
    def split(self, symbol: str, side_sign: int, quantity: float) -> tuple[float, float]:
        """``(closing, opening)`` parts of an order of ``quantity`` on side ``side_sign``."""
        pos = self.positions.get(symbol)
        if pos is None or pos.sign == side_sign:
            return 0.0, quantity
        closing = min(quantity, abs(pos.qty))
        return closing, max(quantity - closing, 0.0)

    def apply_fill(self, instrument: Instrument, order_id: int, side: OrderSide, quantity: float,
                   price: float, fee: float, maker: bool, leverage: int, ts_ms: int) -> SimFill:
        """Net a fill into the position, move margin and book P&L and commission."""
        symbol = instrument.symbol
        side_sign = side.sign
        pos = self.positions.get(symbol)
        closing, opening = self.split(symbol, side_sign, quantity)
        realized = 0.0
        if pos is not None and closing > 0:
            realized = pos.sign * closing * (price - pos.entry)
            remaining = instrument.round_qty(abs(pos.qty) - closing, Rounding.NEAREST)
            if remaining <= 0:
                del self.positions[symbol]
                pos = None
            else:
                pos.iso_wallet *= remaining / abs(pos.qty)
                pos.qty = pos.sign * remaining
                pos.updated_ms = ts_ms
        opening = instrument.round_qty(opening, Rounding.NEAREST)
        if opening > 0:
            margin = opening * price / leverage
            if pos is None:
                self.positions[symbol] = Position(symbol, side_sign * opening, price, margin, leverage, ts_ms)
            else:
                size = abs(pos.qty)
                new_size = instrument.round_qty(size + opening, Rounding.NEAREST)
                pos.entry = (size * pos.entry + opening * price) / (size + opening)
                pos.qty = side_sign * new_size
                pos.iso_wallet += margin
                pos.leverage = leverage
                pos.updated_ms = ts_ms
        trade_id = self._next_trade_id
        self._next_trade_id += 1
        bnb_fee = self.fee_in_bnb(fee)
        fee_paid, fee_asset = (fee, self.asset) if bnb_fee is None else (bnb_fee, BNB)
        fill = SimFill(trade_id, order_id, symbol, side, price, quantity, quantity * price, fee_paid, fee_asset,
                       maker, realized, ts_ms)
        self.fills.append(fill)
        if closing > 0:
            self.book(symbol, IncomeType.REALIZED_PNL, realized, ts_ms, trade_id)
        if bnb_fee is not None:
            self._book_other(BNB, symbol, IncomeType.COMMISSION, -bnb_fee, ts_ms, trade_id)
        elif fee:
            self.book(symbol, IncomeType.COMMISSION, -fee, ts_ms, trade_id)
        return fill

    def settle_funding(self, symbol: str, amount: float, ts_ms: int) -> SimIncome | None:
        """Book a funding payment for the position of ``symbol`` (wallet and isolated wallet)."""
        pos = self.positions.get(symbol)
        if pos is None:
            return None
        pos.iso_wallet += amount
        pos.updated_ms = ts_ms
        return self.book(symbol, IncomeType.FUNDING_FEE, amount, ts_ms)
