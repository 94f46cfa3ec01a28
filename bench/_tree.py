"""The tree a benchmark is in, first on ``sys.path`` and on the ``PYTHONPATH`` its processes inherit: a
benchmark measures this checkout's confagent (its stores, agents and examples too), not a copy installed
elsewhere (``pip install .`` copies the package; an editable install may point at another checkout).
Imported before anything that imports confagent."""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["ROOT", "tree_env"]

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


def tree_env(tree: Path) -> dict[str, str]:
    """What a process's environment needs to import confagent from ``tree`` (another checkout, a ``--base``):
    its ``PYTHONPATH``, and ``PYTHONSAFEPATH`` (Python 3.11), without which ``python -m confagent`` puts
    its working directory first on ``sys.path``, and a benchmark run from this tree's root measured this
    tree twice (every ``--base`` comparison before session 10's 17:05 UTC did)."""
    return {"PYTHONPATH": str(tree.resolve()), "PYTHONSAFEPATH": "1"}
