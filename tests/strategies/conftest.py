"""Make ``import strategies`` resolve to the repository's package in these tests.

pytest puts ``tests/`` on sys.path (rootdir conftest without ``__init__``), where
``tests/strategies`` looks like a namespace package, and the editable install of this checkout
registered ``strategies`` as a namespace (it was installed before ``__init__.py`` existed).
With the repository root on sys.path the regular package wins. Nothing here depends on it:
the tests import submodules (``strategies.registry``), which resolve either way.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
