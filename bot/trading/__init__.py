"""The engine's trading parts: the open-trade book, the journaled order path, stop protection,
exit attribution and restart reconciliation. Each module has one job; ``bot.engine`` wires them."""
