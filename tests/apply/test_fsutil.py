"""confagent.fsutil: a replaced file is whole, old or new; no stage file outlives a failure; stage files
synced together each get their own answer; a bounded read reads what ``read(bound)`` reads."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from confagent.fsutil import (
    STAGE_SUFFIX,
    open_directory,
    read_at_most,
    replace_file,
    stage_file,
    sync_file_system,
    sync_stage_files,
    write_file_atomically,
)
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


@pytest.mark.parametrize("size", [0, 1, 99, 100, 101, 5000])
def test_a_bounded_read_gives_what_read_of_the_bound_gives(tmp_path: Path, size: int) -> None:
    path = tmp_path / "f"
    path.write_bytes(bytes(range(256)) * 20)
    with path.open("r+b") as file:
        file.truncate(size)
    with path.open("rb") as file:
        expected = file.read(100)
    with path.open("rb") as file:
        assert read_at_most(file.fileno(), 100) == expected


def test_a_bounded_read_reads_past_a_size_that_understates_the_file(tmp_path: Path) -> None:
    # /proc files say they hold 0 bytes; a file that grew since its fstat: the read goes on to the bound
    whole = Path("/proc/self/cmdline").read_bytes()
    assert len(whole) > 8
    for bound, expected in ((8, whole[:8]), (1 << 20, whole)):
        with open("/proc/self/cmdline", "rb") as file:
            assert read_at_most(file.fileno(), bound) == expected
    grown = tmp_path / "grown"
    grown.write_bytes(b"x" * 200_000)
    fd = os.open(grown, os.O_RDONLY)
    try:
        assert read_at_most(fd, 150_001, size=10) == b"x" * 150_001
    finally:
        os.close(fd)


def test_stage_files_synced_together_are_durable_each(tmp_path: Path) -> None:
    """Rule 5: written without fsync after the directory was opened, then one syncfs and the
    directory's fsync; each is whole, with its mode, and has no error."""
    directory_fd = open_directory(tmp_path)
    try:
        stages = [stage_file(tmp_path / f"f{index}", f"v{index}".encode(), mode=0o640, sync=False)
                  for index in range(3)]
        assert sync_stage_files(directory_fd, stages) == [None, None, None]
    finally:
        os.close(directory_fd)
    assert [attributes_of(stage)[::3] for stage in stages] == [(f"v{index}".encode(), 0o640)
                                                               for index in range(3)]


def test_a_failed_syncfs_falls_back_to_an_fsync_of_each_file_with_its_own_error(tmp_path: Path) -> None:
    """syncfs through a descriptor that is not open fails (EBADF): each stage file is fsynced through
    a new descriptor; one that cannot be opened any more gets that error, the others none."""
    kept, gone = (stage_file(tmp_path / name, b"x", mode=0o600, sync=False) for name in ("kept", "gone"))
    gone.unlink()
    with pytest.raises(OSError) as raised:
        sync_file_system(-1)
    assert raised.value.errno == errno.EBADF
    errors = sync_stage_files(-1, [kept, gone])
    assert errors[0] is None and isinstance(errors[1], FileNotFoundError)
