"""Pure cores import no I/O (nor randomness, a clock or a hash of their own where those are parameters),
export what they define, imports flow downward as DESIGN.md draws them, and never in a cycle."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "confagent"
PURE = ("raft", "kv", "wire", "auth", "render", "resource", "settings", "convert")
IO_MODULES = {"asyncio", "socket", "os", "subprocess", "time", "threading", "httpx",
              "starlette", "uvicorn", "shutil", "signal", "selectors", "tempfile"}
# What some pure cores may not import beyond I/O: their randomness, clock and password hashing are
# parameters or the edge's (raft takes an injected random.Random, so it imports the module for its type).
PURE_FORBIDDEN = {"kv": {"random"}, "auth": {"random", "secrets", "datetime", "bcrypt", "jwt"}}
# Which confagent packages each package may import, besides itself and the base modules.
# Pure cores import only errors, types, lazy and settings (how a setting is read); I/O packages may
# also use fsutil, backoff, asgi, http_listener and tasks.
PURE_BASE = {"errors", "types", "lazy", "settings"}
IO_BASE = PURE_BASE | {"fsutil", "backoff", "asgi", "http_listener", "tasks"}
ALLOWED = {
    "raft": set(),
    "kv": set(),
    "wire": {"kv", "auth"},  # a role's Permission is the auth core's value, on the wire as it is
    "auth": {"kv"},
    "render": set(),
    "resource": set(),
    "settings": set(),
    "convert": set(),
    "server": {"raft", "kv", "wire", "auth"} | IO_BASE,
    "client": {"kv", "wire"} | IO_BASE,
    "apply": {"resource"} | IO_BASE,
    "backends": {"server", "client", "kv", "wire", "render"} | IO_BASE,  # wire: a one-shot's gRPC read
    "config": {"backends", "render", "resource"} | IO_BASE,
    "metad": {"backends", "client", "kv", "render"} | IO_BASE,
    "history": {"render", "resource"} | IO_BASE,
    "agent": {"config", "backends", "render", "resource", "apply", "server", "client", "history"} | IO_BASE,
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
    forbidden = IO_MODULES | PURE_FORBIDDEN.get(package, set())
    offenders = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in forbidden
    }
    assert not offenders, f"pure package {package} imports I/O: {sorted(offenders)}"


@pytest.mark.parametrize("package", ["kv", "wire", "auth"])
def test_every_export_exists_and_every_public_name_is_exported(package: str) -> None:
    module = importlib.import_module(f"confagent.{package}")
    exported: list[str] = module.__all__
    assert len(set(exported)) == len(exported)
    for name in exported:
        assert hasattr(module, name), name
    public = {name for name in dir(module) if not name.startswith("_")}
    assert sorted(public - set(exported) - {"annotations", "TYPE_CHECKING", "lazy_exports"}) == []


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



# No import cycles between modules (issue 11, item 4). An edge is every import a module makes:
# at module level, inside a function, and under `if TYPE_CHECKING:`. An import inside a function
# still runs, later: it hides a cycle from import time without removing it. A TYPE_CHECKING
# import is still a dependency: neither module reads or type-checks without the other, and in a
# package's __init__ it stands for a name loaded lazily (confagent.lazy). Importing a submodule
# (`from confagent.kv import _snapshot`, `import confagent.kv._store`) is an edge to that module
# only, not to its package's __init__, which Python runs first for every submodule alike.

# server/'s sub-packages, by noun, and which of the others each may import (the direction its
# __init__ draws): api -> node -> {peers -> membership, storage}; api also reads membership and
# storage. Only the modules at server/'s top (StoreServer, bootstrap, restore, __init__) assemble
# them all; no sub-package imports them.
SERVER_ALLOWED = {
    "storage": set(),
    "membership": set(),
    "peers": {"membership"},
    "node": {"membership", "peers", "storage"},
    "api": {"node", "membership", "storage"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_edges(module: str, package: str, source: str, modules: set[str]) -> set[str]:
    """The ``modules`` that ``module`` (in ``package``) imports anywhere in ``source``."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(source, module)):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            imported = ".".join(filter(None, (base, node.module)))
            submodules = {f"{imported}.{alias.name}" for alias in node.names} & modules
            targets |= submodules
            if len(submodules) < len(node.names):
                targets.add(imported)  # names the module defines (or loads lazily) itself
    return {target for target in targets if target in modules and target != module}


def _module_graph() -> dict[str, set[str]]:
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: _import_edges(name, name if path.name == "__init__.py" else name.rpartition(".")[0],
                            path.read_text(), set(paths))
        for name, path in paths.items()
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module):]
            del stack[stack.index(module):]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def _shortest_cycle(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """A shortest cycle through the component's first module: the path a failure names."""
    start, members = component[0], set(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for module in frontier:
            for target in sorted(graph[module] & members):
                if target == start:
                    return [*paths[module], start]
                if target not in paths:
                    paths[target] = [*paths[module], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"{component} is not a cycle")


def test_no_import_cycles_between_modules() -> None:
    graph = _module_graph()
    cycles = [" -> ".join(module.removeprefix("confagent.") for module in _shortest_cycle(graph, component))
              for component in _cycles(graph)]
    assert not cycles, f"import cycles between modules: {cycles}"


def test_every_server_sub_package_has_a_direction() -> None:
    packages = {path.parent.name for path in (PACKAGE / "server").glob("*/__init__.py")}
    assert packages == set(SERVER_ALLOWED)


@pytest.mark.parametrize("package", sorted(SERVER_ALLOWED))
def test_server_sub_packages_import_one_way(package: str) -> None:
    allowed = {f"confagent.server.{name}" for name in SERVER_ALLOWED[package] | {package}}
    offenders = {
        f"{module.removeprefix('confagent.')}: {target.removeprefix('confagent.')}"
        for module, targets in _module_graph().items() if module.startswith(f"confagent.server.{package}")
        for target in targets
        if target.startswith("confagent.server") and ".".join(target.split(".")[:3]) not in allowed
    }
    assert not offenders, f"server/{package} imports against the direction: {sorted(offenders)}"


def _server_sub_package(module: str) -> str:
    """The sub-package of server/ that ``module`` belongs to; "" for the modules at server/'s top."""
    parts = module.split(".")[2:]
    return parts[0] if parts and parts[0] in SERVER_ALLOWED else ""


def test_server_sub_packages_are_entered_only_through_their_exports() -> None:
    offenders = {
        f"{module.removeprefix('confagent.')}: {target.removeprefix('confagent.')}"
        for module, targets in _module_graph().items() if module.startswith("confagent.server")
        for target in targets
        if _server_sub_package(target) not in ("", _server_sub_package(module)) and target.count(".") > 2
    }
    assert not offenders, f"imports of another sub-package's private modules: {sorted(offenders)}"


def test_the_cycle_check_sees_every_kind_of_import() -> None:
    modules = {"confagent.kv", "confagent.kv._store", "confagent.kv._snapshot", "confagent.errors",
               "confagent.wire._json_server", "confagent.lazy"}
    source = """
from typing import TYPE_CHECKING
from confagent.kv import _snapshot
from . import Lessor
if TYPE_CHECKING:
    from confagent.errors import StoreError
def late():
    import confagent.wire._json_server
    from ..lazy import lazy_exports
"""
    assert _import_edges("confagent.kv._store", "confagent.kv", source, modules) == {
        "confagent.kv._snapshot", "confagent.kv", "confagent.errors", "confagent.wire._json_server",
        "confagent.lazy"}
    graph = {"a": {"b"}, "b": {"c", "a"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _shortest_cycle(graph, ["a", "b", "c"]) == ["a", "b", "a"]
