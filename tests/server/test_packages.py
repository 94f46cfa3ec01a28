"""server/ and its sub-packages each export exactly their public names (``__all__``).

Which sub-package may import which, and that the others enter one only through its
exports, is tests/test_layers.py's.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

from confagent import server

SUB_PACKAGES = sorted(path.parent.name for path in Path(server.__path__[0]).glob("*/__init__.py"))


@pytest.mark.parametrize("name", ["", *SUB_PACKAGES])
def test_every_export_exists_and_every_public_name_is_exported(name: str) -> None:
    package = importlib.import_module(f"confagent.server.{name}" if name else "confagent.server")
    assert len(set(package.__all__)) == len(package.__all__)
    assert [export for export in package.__all__ if not hasattr(package, export)] == []
    public = {export for export, value in vars(package).items()
              if not export.startswith("_") and not isinstance(value, ModuleType)}
    assert sorted(public - set(package.__all__)) == []
