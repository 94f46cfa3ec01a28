"""The wire package's shape: pure (no I/O imports), a complete export list, and no reach-ins."""

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


def test_every_export_exists_and_every_public_name_is_exported() -> None:
    assert len(set(wire.__all__)) == len(wire.__all__)
    for name in wire.__all__:
        assert hasattr(wire, name), name
    public = {name for name in dir(wire) if not name.startswith("_")}
    assert sorted(public - set(wire.__all__) - {"TYPE_CHECKING", "lazy_exports"}) == []


def test_only_wire_itself_imports_its_private_modules() -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.parent.name != "wire"
        for name in _imported_modules(path)
        if name.startswith("confagent.wire._")
    }
    assert not offenders, sorted(offenders)
