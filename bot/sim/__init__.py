"""The simulated exchange core: one implementation of orders, matching, fees, funding, margin and
liquidation behind both the in-process paper executor and the Binance-compatible emulator."""
