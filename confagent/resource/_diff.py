"""Unified diffs of a planned replace, for ``--noop`` and ``render --check`` (confd's noop shows none).

Rules:
1. The diff is GNU ``diff -u`` style: ``--- dest`` / ``+++ dest`` headers
   (``/dev/null`` for a file that does not exist yet), hunks with
   ``context_lines`` of context, and ``\\ No newline at end of file`` where a side lacks one.
2. Owner, group and mode differences come first, one ``# dest: ...`` line
   each, so a mode-only change is visible too.
3. Content that is not UTF-8 is not shown line by line: ``Binary files ... differ``.
4. The lines both sides begin and end with are matched first; ``difflib``'s
   matcher runs on the changed middle only, and not at all when the two
   middles share no line (a changed line or block: the usual change to a
   configuration file). The diff is a valid one (``patch`` applies it), not
   always the one ``difflib`` would give: where lines repeat, ``difflib``
   may match them differently. A record of the render history computes one
   per apply, and ``difflib``'s setup was most of its cost.
"""

from __future__ import annotations

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
    hunks = _hunks(_opcodes(old_lines, new_lines), context_lines)
    if not hunks:
        return ""
    lines = [f"--- {old_name}\n", f"+++ {path}\n"]
    for hunk in hunks:
        first, last = hunk[0], hunk[-1]
        lines.append(f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n")
        for tag, i1, i2, j1, j2 in hunk:
            if tag == "equal":
                lines += [f" {line}" for line in old_lines[i1:i2]]
                continue
            lines += [f"-{line}" for line in old_lines[i1:i2]]
            lines += [f"+{line}" for line in new_lines[j1:j2]]
    return "".join(_with_newline_markers(lines))


_Opcode = tuple[str, int, int, int, int]
"""``difflib``'s: a tag and the ranges ``[i1, i2)`` of the old lines and ``[j1, j2)`` of the new."""


def _opcodes(old: list[str], new: list[str]) -> list[_Opcode]:
    """The opcodes turning ``old`` into ``new``, the common beginning and end matched first (rule 4)."""
    start, limit = 0, min(len(old), len(new))
    while start < limit and old[start] == new[start]:
        start += 1
    end = 0
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    old_end, new_end = len(old) - end, len(new) - end
    middle_old, middle_new = old[start:old_end], new[start:new_end]
    if not middle_old and not middle_new:
        return []  # the same lines: a file created empty
    if not middle_old or not middle_new or set(middle_old).isdisjoint(middle_new):
        tag = "replace" if middle_old and middle_new else "delete" if middle_old else "insert"
        middle = [(tag, start, old_end, start, new_end)]
    else:
        import difflib  # noqa: PLC0415 - only for a change; a one-shot's start-up need not load it

        matcher = difflib.SequenceMatcher(None, middle_old, middle_new, autojunk=False)
        middle = [(tag, i1 + start, i2 + start, j1 + start, j2 + start)
                  for tag, i1, i2, j1, j2 in matcher.get_opcodes()]
    head = [("equal", 0, start, 0, start)] if start else []
    tail = [("equal", old_end, len(old), new_end, len(new))] if end else []
    return head + middle + tail


def _hunks(opcodes: list[_Opcode], context: int) -> list[list[_Opcode]]:
    """The opcodes in hunks, each change with ``context`` equal lines around it, as ``diff -u`` groups them:
    two changes closer than twice the context share a hunk."""
    hunks: list[list[_Opcode]] = []
    hunk: list[_Opcode] = []
    for index, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        if tag != "equal":
            hunk.append((tag, i1, i2, j1, j2))
            continue
        if index > 0:  # the context after the change before
            after = min(i2 - i1, context)
            hunk.append((tag, i1, i1 + after, j1, j1 + after))
            if i2 - i1 <= 2 * context and index < len(opcodes) - 1:
                hunk[-1] = (tag, i1, i2, j1, j2)
                continue
            hunks.append(hunk)
            hunk = []
        if index < len(opcodes) - 1:  # the context before the next change
            before = min(i2 - i1, context)
            hunk.append((tag, i2 - before, i2, j2 - before, j2))
    if hunk:
        hunks.append(hunk)
    return hunks


def _range(start: int, stop: int) -> str:
    """A hunk's range as ``diff -u`` writes it: the first line (1-based) and the count, left out when 1;
    an empty range names the line before it."""
    count = stop - start
    return f"{start + 1}" if count == 1 else f"{start + 1 if count else start},{count}"


def _with_newline_markers(diff_lines: Iterable[str]) -> list[str]:
    """Each line that lacks its newline (a side's last) ended, and marked as ``diff -u`` marks it."""
    out: list[str] = []
    for line in diff_lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.extend((line + "\n", _NO_NEWLINE))
    return out
