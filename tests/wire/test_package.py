"""The wire package's shape: no reach-ins (its purity and its export list: tests/test_layers.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from confagent import wire

PACKAGE = Path(wire.__path__[0]).parent


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_wire_itself_imports_its_private_modules() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "wire"
        for name in _imported_modules(path)
        if name.startswith("confagent.wire._")
    }
    assert not offenders, sorted(offenders)
