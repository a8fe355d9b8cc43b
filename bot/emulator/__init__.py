"""Offline Binance USDⓈ-M REST emulator.

The real, unmodified ``ccxt.async_support.binanceusdm`` client trades against it over HTTP on
loopback. The trading logic lives in :class:`bot.sim.exchange.SimExchange`; this package only
speaks the wire dialect (routing, signing, errors, weights, JSON shapes) and drives the core
through recorded market history as the emulator clock moves.
"""

from bot.emulator.app import create_app, start_emulator
from bot.emulator.state import EmulatorConfig, EmulatorState

__all__ = ["EmulatorConfig", "EmulatorState", "create_app", "start_emulator"]
