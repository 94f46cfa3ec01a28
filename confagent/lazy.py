"""``lazy_exports``: a package's public names loaded from their modules on first use (PEP 562).

A package whose ``__init__`` would import a heavy module for one or two of
its names (uvicorn, Jinja2, the store's machinery) names them in a mapping
instead, and binds the two functions returned here as its module-level
``__getattr__`` and ``__dir__``. The first access imports the module and
keeps the value in the package's namespace, so later ones cost nothing. A
package whose names print as its own (``confagent.render.Scope``) asks for
``rename`` and sets ``__module__`` of its eager names likewise.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, namespace: MutableMapping[str, Any], modules: Mapping[str, str], *,
                 rename: bool = False) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``, whose ``globals()`` is ``namespace``.

    Args:
        modules: public name -> the submodule defining it, relative to ``package`` (``"_store"``).
        rename: give each loaded value ``package`` as its ``__module__``, so that it prints
            as ``package.Name`` (in error messages too) rather than by its private module.
    """

    def load(name: str) -> Any:
        module_name = modules.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module_name}"), name)
        if rename:
            value.__module__ = package
        namespace[name] = value
        return value

    def names() -> list[str]:
        return sorted(set(namespace) | set(modules))

    return load, names
