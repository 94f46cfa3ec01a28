"""Placeholders in ``check_cmd`` and ``reload_cmd``: which exist, and filling them in.

Rules:
1. A placeholder is ``{{.name}}`` (confd's Go-template spelling) or
   ``{{ name }}`` (Jinja's), spaces optional: ``{{ .src }}`` works too.
2. ``src`` is the stage file (only while it exists: ``check_cmd``); ``dest``
   is the destination (both commands; confd has no ``{{.dest}}`` at all);
   ``dst`` is remco's name for ``dest``.
3. Values are shell-quoted when they need it, since commands run through
   ``/bin/sh -c``; an ordinary path is inserted as it is.
4. Text that is not a simple placeholder (``{{.State.Running}}`` in a
   ``docker inspect`` format) is left alone.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

__all__ = ["CHECK_PLACEHOLDERS", "RELOAD_PLACEHOLDERS", "fill_command", "unknown_placeholders"]

CHECK_PLACEHOLDERS = frozenset({"src", "dest", "dst"})
RELOAD_PLACEHOLDERS = frozenset({"dest", "dst"})

_PLACEHOLDER = re.compile(r"\{\{\s*\.?([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_SHELL_SAFE = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def unknown_placeholders(command: str, known: Collection[str]) -> list[str]:
    """The placeholders of ``command`` (as written) whose names are not in ``known``."""
    return [match.group(0) for match in _PLACEHOLDER.finditer(command) if match.group(1) not in known]


def fill_command(command: str, values: Mapping[str, str]) -> str:
    """``command`` with each placeholder replaced by its shell-quoted value.

    ``values`` maps ``src``/``dest``; ``dst`` takes the value of ``dest``. A
    placeholder without a value is left as written (``parse_resource`` refuses those).
    """
    filled = dict(values)
    if "dest" in filled:
        filled.setdefault("dst", filled["dest"])

    def replace(match: re.Match[str]) -> str:
        value = filled.get(match.group(1))
        return match.group(0) if value is None else _shell_quote(value)

    return _PLACEHOLDER.sub(replace, command)


def _shell_quote(text: str) -> str:
    if _SHELL_SAFE.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\"'\"'") + "'"
