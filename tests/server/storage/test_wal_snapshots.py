"""Snapshot files: atomic saves, keeping the newest five, falling back past a broken newest."""

from __future__ import annotations

from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.fsutil import write_file_atomically
from confagent.raft._types import ConfState, SnapshotMeta
from confagent.server.storage import KEEP_SNAPSHOTS, SnapshotFiles


def meta_at(index: int) -> SnapshotMeta:
    return SnapshotMeta(index, index // 10 + 1, ConfState(voters=(1, 2, 3), learners=(4,)))


def snap_names(snap_dir: Path) -> list[str]:
    return sorted(path.name for path in snap_dir.iterdir())


def test_an_empty_directory_has_no_snapshot(tmp_path: Path) -> None:
    assert SnapshotFiles(tmp_path / "snap").load_latest() is None
    assert (tmp_path / "snap").is_dir()


def test_the_newest_snapshot_round_trips(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    files.save(meta_at(10), b"old state")
    files.save(meta_at(20), b"\x00new state\xff" * 1000)

    assert SnapshotFiles(tmp_path).load_latest() == (meta_at(20), b"\x00new state\xff" * 1000)
    assert snap_names(tmp_path) == [
        "000000000000000a-0000000000000002.snap", "0000000000000014-0000000000000003.snap",
    ]


def test_only_the_newest_five_are_kept(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    oldest_kept = [files.save(meta_at(index * 100), b"state %d" % index) for index in range(1, 9)]

    assert oldest_kept == [100, 100, 100, 100, 100, 200, 300, 400], "the log must reach back to it"
    names = snap_names(tmp_path)
    assert len(names) == KEEP_SNAPSHOTS
    assert names[0].startswith(f"{400:016x}-")
    assert files.load_latest() == (meta_at(800), b"state 8")


@pytest.mark.parametrize("damage", ["flip_data", "flip_meta", "truncate", "empty", "extend"])
def test_a_broken_newest_falls_back_and_says_why(tmp_path: Path, damage: str) -> None:
    files = SnapshotFiles(tmp_path)
    files.save(meta_at(10), b"good")
    files.save(meta_at(20), b"newest state")
    newest = tmp_path / "0000000000000014-0000000000000003.snap"
    content = bytearray(newest.read_bytes())
    if damage == "flip_data":
        content[-3] ^= 0x01
    elif damage == "flip_meta":
        content[24] ^= 0x01
    elif damage == "truncate":
        del content[-1:]
    elif damage == "empty":
        content.clear()
    else:
        content += b"x"
    newest.write_bytes(content)

    reopened = SnapshotFiles(tmp_path)
    assert reopened.load_latest() == (meta_at(10), b"good")
    (broken,) = reopened.broken
    assert (broken.path, broken.kept_as) == (newest, Path(f"{newest}.broken"))
    assert str(broken) == f"{newest}: {broken.reason}"
    assert not newest.exists()
    assert Path(f"{newest}.broken").read_bytes() == content


def test_when_every_snapshot_is_broken_loading_fails(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    files.save(meta_at(10), b"one")
    files.save(meta_at(20), b"two")
    for path in tmp_path.glob("*.snap"):
        path.write_bytes(b"garbage")

    with pytest.raises(StorageError, match="no readable snapshot"):
        SnapshotFiles(tmp_path).load_latest()


def test_the_temp_file_of_a_crashed_save_is_ignored_and_cleaned(tmp_path: Path) -> None:
    files = SnapshotFiles(tmp_path)
    files.save(meta_at(10), b"durable")
    leftover = tmp_path / ".0000000000000014-0000000000000003.snap.a8b9.stage"
    leftover.write_bytes(b"half written")

    reopened = SnapshotFiles(tmp_path)
    assert not leftover.exists()
    assert reopened.load_latest() == (meta_at(10), b"durable")
    assert reopened.broken == ()


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "file"
    write_file_atomically(target, b"old")

    with pytest.raises(TypeError):
        write_file_atomically(target, "not bytes")  # type: ignore[arg-type]

    assert target.read_bytes() == b"old"
    assert snap_names(tmp_path) == ["file"]
