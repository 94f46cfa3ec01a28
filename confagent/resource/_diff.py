"""Unified diffs of a planned replace, for ``--noop`` and ``render --check`` (confd's noop shows none).

Rules:
1. The diff is GNU ``diff -u`` style: ``--- dest`` / ``+++ dest`` headers
   (``/dev/null`` for a file that does not exist yet), hunks with
   ``context_lines`` of context, and ``\\ No newline at end of file`` where a side lacks one.
2. Owner, group and mode differences come first, one ``# dest: ...`` line
   each, so a mode-only change is visible too.
3. Content that is not UTF-8 is not shown line by line: ``Binary files ... differ``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from confagent.resource._plan import Replace

__all__ = ["plan_diff", "unified_diff"]

_NO_NEWLINE = "\\ No newline at end of file\n"


def plan_diff(replace: Replace, context_lines: int = 3) -> str:
    """Attribute changes and the content diff of a planned replace."""
    lines = [f"# {replace.dest}: {difference}\n" for difference in replace.differences
             if difference.attribute in ("uid", "gid", "mode")]
    old = None if replace.previous is None else replace.previous.content
    return "".join(lines) + unified_diff(replace.dest, old, replace.content, context_lines)


def unified_diff(path: str, old: bytes | None, new: bytes, context_lines: int = 3) -> str:
    """The unified diff turning ``old`` (None: absent) into ``new``; ``""`` when equal."""
    if old == new:
        return ""
    old_name = "/dev/null" if old is None else path
    try:
        old_lines = [] if old is None else old.decode().splitlines(keepends=True)
        new_lines = new.decode().splitlines(keepends=True)
    except UnicodeDecodeError:
        return f"Binary files {old_name} and {path} differ\n"
    hunks = difflib.unified_diff(old_lines, new_lines, old_name, path, n=context_lines)
    return "".join(_with_newline_markers(hunks))


def _with_newline_markers(diff_lines: Iterable[str]) -> list[str]:
    out: list[str] = []
    for line in diff_lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.extend((line + "\n", _NO_NEWLINE))
    return out
