"""The tree a benchmark is in, first on ``sys.path`` and on the ``PYTHONPATH`` its processes inherit: a
benchmark measures this checkout's confagent (its stores, agents and examples too), not a copy installed
elsewhere (``pip install .`` copies the package; an editable install may point at another checkout).
Imported before anything that imports confagent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ROOT"]

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
