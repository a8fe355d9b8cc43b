"""Market history: loaders for the on-disk formats we meet, the in-memory ``MarketStore``, clocks.

Loaders turn one file format into plain column containers (:mod:`bot.data.series`); the store
discovers files by layout, merges them per symbol and hands out ``SymbolHistory`` objects of
read-only numpy arrays. See ``bot/data/README.md`` for the formats and the normalised layout.
"""
