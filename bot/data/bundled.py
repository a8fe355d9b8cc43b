"""Where the bundled real-data sample lives: inside the installed package, not the checkout.

The sample (about 1.3 MB, ``bot/data/sample/``, described in its README) ships as package data,
so ``derivbot demo``, ``derivbot backtest`` and ``derivbot exchange-sim`` work from any folder
after a plain ``pip install``: their ``--data`` defaults resolve here through
:mod:`importlib.resources` instead of a path relative to the current directory.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The package that holds the sample folder, and the folder's name in it.
_PACKAGE, _FOLDER = "bot.data", "sample"


def sample_dir() -> Path:
    """The bundled sample's folder on disk.

    Raises ``FileNotFoundError`` naming the expected place when the installation has no sample
    (a wheel built without its package data) or is not on a file system (a zip import), where
    the market-data loaders, which read files by path, could not use it anyway.
    """
    root = resources.files(_PACKAGE) / _FOLDER
    path = Path(str(root))
    if not isinstance(root, Path) or not path.is_dir():
        raise FileNotFoundError(f"the bundled data sample is missing from this installation (expected {path}); "
                                "reinstall derivbot, or pass --data DIR")
    return path
