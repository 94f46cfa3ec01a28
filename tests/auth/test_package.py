"""The auth package's shape: pure (no I/O, no clock, no randomness, no bcrypt) and a complete export list."""

from __future__ import annotations

import ast
import pkgutil
from pathlib import Path

from confagent import auth

FORBIDDEN = {"asyncio", "socket", "os", "subprocess", "time", "threading", "httpx", "starlette",
             "uvicorn", "random", "secrets", "bcrypt", "jwt", "datetime"}


def _imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_auth_core_imports_no_io_clock_or_randomness() -> None:
    for module in pkgutil.iter_modules(auth.__path__):
        path = Path(auth.__path__[0]) / f"{module.name}.py"
        assert not _imported_roots(path) & FORBIDDEN, module.name


def test_every_export_exists_and_every_public_name_is_exported() -> None:
    assert len(set(auth.__all__)) == len(auth.__all__)
    for name in auth.__all__:
        assert hasattr(auth, name), name
    public = [name for name in dir(auth) if not name.startswith("_")]
    assert sorted(set(public) - set(auth.__all__) - {"annotations"}) == []
