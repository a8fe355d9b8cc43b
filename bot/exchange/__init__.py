"""Building ccxt clients: the one place that knows endpoints, keys and emulator rewiring."""

from bot.exchange.connect import connect, connected

__all__ = ["connect", "connected"]
