"""derivbot: trades crypto perpetual futures on derivatives signals.

The engine lives in sub-packages that follow nautilus_trader's layering:
``market`` and ``data`` (what we observe), ``execution`` (orders), ``risk``,
``portfolio``, ``journal`` (persistence) and ``sim`` (the simulated exchange).
"""

__version__ = "0.1.0"
