"""bench/_inotify.py: a rename into the watched directory is seen by name, and nothing else is."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.bench_modules import load_bench_module


def test_a_rename_to_the_name_is_seen_and_other_changes_are_not(tmp_path: Path) -> None:
    rename_watch = load_bench_module("_inotify").RenameWatch
    (tmp_path / "stage").write_text("1")
    with rename_watch(tmp_path) as renames:
        (tmp_path / "other").write_text("x")  # created and written, not renamed into place
        os.rename(tmp_path / "stage", tmp_path / "other.conf")
        with pytest.raises(RuntimeError, match=r"dest\.conf was not replaced"):
            renames.wait_for("dest.conf", time.perf_counter() + 0.05)
        (tmp_path / "stage").write_text("2")
        os.rename(tmp_path / "stage", tmp_path / "dest.conf")
        before = time.perf_counter()
        assert renames.wait_for("dest.conf", before + 60) >= before


def test_drain_forgets_the_renames_seen_so_far(tmp_path: Path) -> None:
    (tmp_path / "stage").write_text("1")
    with load_bench_module("_inotify").RenameWatch(tmp_path) as renames:
        os.rename(tmp_path / "stage", tmp_path / "dest.conf")
        renames.drain()
        with pytest.raises(RuntimeError):
            renames.wait_for("dest.conf", time.perf_counter() + 0.05)
