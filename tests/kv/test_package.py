"""The kv package's shape: pure (no I/O imports) and a complete export list."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

from confagent import kv

FORBIDDEN = {"asyncio", "socket", "os", "subprocess", "time", "threading", "httpx",
             "starlette", "uvicorn", "random"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_state_machine_imports_no_io() -> None:
    for module in pkgutil.iter_modules(kv.__path__):
        path = Path(kv.__path__[0]) / f"{module.name}.py"
        assert not _imported_roots(path) & FORBIDDEN, module.name


def test_every_export_exists_and_every_public_name_is_exported() -> None:
    assert len(set(kv.__all__)) == len(kv.__all__)
    for name in kv.__all__:
        assert hasattr(kv, name), name
    public = [name for name in dir(kv) if not name.startswith("_")]
    assert sorted(set(public) - set(kv.__all__) - {"annotations", "TYPE_CHECKING", "lazy_exports"}) == []
