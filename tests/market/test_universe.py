"""Universe selection: USDT perpetuals by 24h quote volume, allow/deny, explicit symbols, refresh."""

from __future__ import annotations

from bot.config import UniverseSettings
from bot.market.universe import UniverseTracker, select_universe


def _m(mid: str, *, swap: bool = True, linear: bool = True, settle: str = "USDT", active: bool = True) -> dict:
    return {"id": mid, "swap": swap, "linear": linear, "settle": settle, "active": active}


MARKETS = [_m("BTCUSDT"), _m("ETHUSDT"), _m("ORCAUSDT"), _m("DEADUSDT", active=False),
           _m("BTCUSD_PERP", linear=False, settle="BTC"), _m("BTCUSDT_250328", swap=False),
           _m("ETHUSDC", settle="USDC")]
VOL = {"BTCUSDT": 9e9, "ETHUSDT": 5e9, "ORCAUSDT": 3e6, "DEADUSDT": 1e10, "BTCUSD_PERP": 1e10,
       "BTCUSDT_250328": 1e10, "ETHUSDC": 1e10}


def test_volume_filter_keeps_only_active_usdt_perpetuals_largest_first() -> None:
    sel = select_universe(MARKETS, VOL, UniverseSettings(min_quote_volume_24h=1e9))
    assert sel.symbols == ("BTCUSDT", "ETHUSDT")
    assert sel.quote_volume_24h["ETHUSDT"] == 5e9


def test_allow_deny_and_cap() -> None:
    s = UniverseSettings(min_quote_volume_24h=1e9, allow=["orcausdt"], deny=["ETHUSDT"], max_symbols=2)
    assert select_universe(MARKETS, VOL, s).symbols == ("ORCAUSDT", "BTCUSDT")
    capped = UniverseSettings(min_quote_volume_24h=0, max_symbols=1)
    assert select_universe(MARKETS, VOL, capped).symbols == ("BTCUSDT",)


def test_explicit_symbols_are_checked_against_the_exchange() -> None:
    s = UniverseSettings(symbols=["ORCAUSDT", "TYPOUSDT", "DEADUSDT"])
    sel = select_universe(MARKETS, VOL, s)
    assert sel.symbols == ("ORCAUSDT",)
    assert sel.unknown == ("TYPOUSDT",) and sel.inactive == ("DEADUSDT",)


def test_open_positions_stay_even_below_volume_or_denied() -> None:
    s = UniverseSettings(min_quote_volume_24h=1e9, deny=["ORCAUSDT"])
    assert select_universe(MARKETS, VOL, s, always=["ORCAUSDT"]).symbols == ("BTCUSDT", "ETHUSDT", "ORCAUSDT")


def test_junk_volume_fails_the_filter_instead_of_crashing() -> None:
    vols = {**VOL, "ETHUSDT": "NaN", "BTCUSDT": None}
    assert select_universe(MARKETS, vols, UniverseSettings(min_quote_volume_24h=1e6)).symbols == ("ORCAUSDT",)


def test_refresh_is_due_after_refresh_minutes() -> None:
    tracker = UniverseTracker(UniverseSettings(refresh_minutes=60))
    assert tracker.due(0)
    tracker.update(select_universe(MARKETS, VOL, UniverseSettings()), 1_000)
    assert not tracker.due(1_000 + 59 * 60_000)
    assert tracker.due(1_000 + 60 * 60_000)
    assert tracker.symbols == ("BTCUSDT", "ETHUSDT")
