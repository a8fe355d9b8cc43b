"""Order execution: one interface, two implementations.

``PaperExecutor`` runs the simulated exchange core in-process; ``ExchangeExecutor`` talks to a
real exchange, its demo venue or our emulator through ccxt. The engine cannot tell them apart.
"""
