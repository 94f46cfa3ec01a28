"""Unified diffs for noop and --check: GNU diff -u shape, attribute lines, binary content."""

from __future__ import annotations

import difflib
import itertools
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from confagent.resource import FileAttributes, FileState, Replace, ResourceSpec, plan, plan_diff, unified_diff

SPEC = ResourceSpec(file="conf.d/a.toml", src="a.tmpl", dest="/etc/a.conf", keys=("/",))
ROOT_644 = FileAttributes(0, 0, 0o644)


def replace_of(old: bytes | None, new: bytes, old_attributes: FileAttributes = ROOT_644) -> Replace:
    current = None if old is None else FileState(old, old_attributes)
    result = plan(SPEC, new, current, ROOT_644)
    assert isinstance(result, Replace)
    return result


def test_changed_line() -> None:
    assert plan_diff(replace_of(b"a\nb\nc\n", b"a\nB\nc\n")) == (
        "--- /etc/a.conf\n+++ /etc/a.conf\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n")


def test_new_file_diffs_against_dev_null() -> None:
    assert plan_diff(replace_of(None, b"x\n")) == "--- /dev/null\n+++ /etc/a.conf\n@@ -0,0 +1 @@\n+x\n"


def test_missing_final_newline_is_marked() -> None:
    assert plan_diff(replace_of(b"a\n", b"a")) == (
        "--- /etc/a.conf\n+++ /etc/a.conf\n@@ -1 +1 @@\n-a\n+a\n\\ No newline at end of file\n")


def test_mode_and_owner_changes_are_shown_without_content() -> None:
    assert plan_diff(replace_of(b"a\n", b"a\n", FileAttributes(65534, 0, 0o600))) == (
        "# /etc/a.conf: uid 65534 -> 0\n# /etc/a.conf: mode 0600 -> 0644\n")


def test_binary_content() -> None:
    diff = unified_diff("/etc/a.bin", b"\xff\x00", b"\xfe")
    assert diff == "Binary files /etc/a.bin and /etc/a.bin differ\n"


def test_equal_content_gives_nothing() -> None:
    assert unified_diff("/x", b"a\n", b"a\n") == ""


@pytest.mark.usefixtures("subprocesses")  # patch(1)
def test_patch_applies_the_diff(tmp_path: Path) -> None:
    """The output is a real unified diff: patch(1) turns the old file into the new one."""
    old, new = b"one\ntwo\nthree\nfour\nfive\nsix\nseven\n", b"one\n2\nthree\nfour\nfive\nsix\nseven\neight"
    target = tmp_path / "a.conf"
    target.write_bytes(old)
    diff = unified_diff(str(target), old, new)
    subprocess.run(["patch", "-s", str(target)], input=diff.encode(), check=True)
    assert target.read_bytes() == new


def _patched(old: list[str], diff: str) -> list[str]:
    """``old`` with ``diff`` applied, each hunk's context and removed lines checked where it says they are."""
    lines = diff.splitlines(keepends=True)[2:]
    out: list[str] = []
    at = 0
    for index, line in enumerate(lines):
        if line.startswith("@@"):
            old_range, new_range = (side[1:].split(",") for side in line.split()[1:3])
            start = int(old_range[0]) - (old_range[1:] != ["0"])
            body = [each[0] for each in itertools.takewhile(lambda each: each[0] != "@", lines[index + 1:])]
            assert body.count(" ") + body.count("-") == int([*old_range, "1"][1])
            assert body.count(" ") + body.count("+") == int([*new_range, "1"][1])
            out += old[at:start]
            at = start
        elif line[0] in " -":
            assert old[at] == line[1:], (at, line)
            at += 1
            if line[0] == " ":
                out.append(line[1:])
        else:
            out.append(line[1:])
    return out + old[at:]


LINES = st.lists(st.sampled_from(["a\n", "b\n", "c\n", "d\n"]), max_size=30)


@given(LINES, LINES, st.integers(0, 4))
def test_the_diff_turns_the_old_lines_into_the_new(old: list[str], new: list[str], context: int) -> None:
    diff = unified_diff("/x", "".join(old).encode(), "".join(new).encode(), context)
    assert (diff == "") == (old == new)
    if diff:
        assert _patched(old, diff) == new


UNIQUE = st.lists(st.integers(0, 60), max_size=40, unique=True)


@given(UNIQUE, UNIQUE)
def test_lines_that_do_not_repeat_give_difflibs_diff(old: list[int], new: list[int]) -> None:
    """Where no line repeats, matching the ends first finds what difflib's matcher finds."""
    old_lines, new_lines = [f"{n}\n" for n in old], [f"{n}\n" for n in new]
    expected = "".join(difflib.unified_diff(old_lines, new_lines, "/x", "/x"))
    assert unified_diff("/x", "".join(old_lines).encode(), "".join(new_lines).encode()) == expected
