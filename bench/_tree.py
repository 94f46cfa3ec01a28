"""The tree a benchmark is in, first on ``sys.path``: a benchmark measures this checkout's confagent, not
a copy installed elsewhere (``pip install .`` copies the package; an editable install may point at another
checkout). Imported before anything that imports confagent."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["ROOT"]

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
