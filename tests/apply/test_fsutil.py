"""confagent.fsutil: a replaced file is whole, old or new; no stage file outlives a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.fsutil import STAGE_SUFFIX, replace_file, stage_file, write_file_atomically
from tests.apply.support import NOBODY, attributes_of, leftovers


def test_write_replaces_with_owner_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    write_file_atomically(target, b"new", mode=0o640, uid=NOBODY, gid=NOBODY)
    assert attributes_of(target) == (b"new", NOBODY, NOBODY, 0o640)
    assert leftovers(tmp_path) == []


def test_stage_then_replace(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    stage = stage_file(target, b"new", mode=0o4755, uid=NOBODY)
    assert stage.parent == tmp_path
    assert stage.name.startswith(".f.") and stage.name.endswith(STAGE_SUFFIX)
    assert target.read_bytes() == b"old"
    assert attributes_of(stage)[1:] == (NOBODY, 0, 0o4755)  # chmod after chown: set-uid kept
    replace_file(stage, target)
    assert (target.read_bytes(), leftovers(tmp_path)) == (b"new", [])


def test_failed_write_leaves_target_and_no_stage(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_file_atomically(target, "not bytes")  # type: ignore[arg-type]
    assert (target.read_bytes(), leftovers(tmp_path)) == (b"old", [])


def test_rename_onto_a_directory_fails_cleanly(tmp_path: Path) -> None:
    target = tmp_path / "d"
    (target / "inside").mkdir(parents=True)
    with pytest.raises(OSError):
        write_file_atomically(target, b"x")
    assert leftovers(tmp_path) == []


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        stage_file(tmp_path / "absent" / "f", b"x", mode=0o644)
