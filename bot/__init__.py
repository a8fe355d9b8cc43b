"""derivbot: trades crypto perpetual futures on derivatives signals.

The engine lives in sub-packages that follow nautilus_trader's layering:
``market`` and ``data`` (what we observe), ``execution`` (orders), ``risk``,
``portfolio``, ``journal`` (persistence) and ``sim`` (the simulated exchange).
"""

import os

__version__ = "0.1.0"

# Arrow's default allocator (mimalloc) keeps the pages it freed: the tables read while loading
# history are converted to numpy arrays and dropped, yet ~40 MB stayed resident for the whole
# 20-symbol benchmark (issue 12). The system allocator gives them back. Arrow reads this once,
# when it first allocates, so it is set before anything imports pyarrow; a user's choice wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
