"""The pure cores import no I/O, and imports flow downward as DESIGN.md draws them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "confagent"
PURE = ("raft", "kv", "wire", "render", "resource", "settings")
IO_MODULES = {"asyncio", "socket", "os", "subprocess", "time", "threading", "httpx",
              "starlette", "uvicorn", "shutil", "signal", "selectors", "tempfile"}
# Which confagent packages each package may import, besides itself and the base modules.
# Pure cores import only errors, types, lazy and settings (how a setting is read); I/O packages may
# also use fsutil, backoff, asgi, http_listener and tasks.
PURE_BASE = {"errors", "types", "lazy", "settings"}
IO_BASE = PURE_BASE | {"fsutil", "backoff", "asgi", "http_listener", "tasks"}
ALLOWED = {
    "raft": set(),
    "kv": set(),
    "wire": {"kv"},
    "render": set(),
    "resource": set(),
    "settings": set(),
    "server": {"raft", "kv", "wire"} | IO_BASE,
    "client": {"kv", "wire"} | IO_BASE,
    "apply": {"resource"} | IO_BASE,
    "backends": {"server", "client", "kv", "render"} | IO_BASE,
    "config": {"backends", "render", "resource"} | IO_BASE,
    "metad": {"backends", "client", "kv", "render"} | IO_BASE,
    "agent": {"config", "backends", "render", "resource", "apply", "server", "client"} | IO_BASE,
}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "confagent":  # from confagent import wire
                names.update(f"confagent.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> list[Path]:
    return sorted((PACKAGE / package).rglob("*.py"))


@pytest.mark.parametrize("package", [p for p in PURE if (PACKAGE / p).is_dir()])
def test_pure_packages_import_no_io(package: str) -> None:
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in IO_MODULES
    }
    assert not offenders, f"pure package {package} imports I/O: {sorted(offenders)}"


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_flow_downward(package: str) -> None:
    allowed = ALLOWED[package] | {package} | PURE_BASE
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name.startswith("confagent.") and name.split(".")[1] not in allowed
    }
    assert not offenders, f"{package} imports upward or sideways: {sorted(offenders)}"
