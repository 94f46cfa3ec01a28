"""``HistoryDb`` on a real SQLite file: WAL, its mode, records read back, bounds by count and by age, queries,
and a file that cannot be opened raising ``StorageError``."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from confagent.errors import StorageError
from confagent.history import Bounds, HistoryDb, HistoryRecord, KeyChange, read_record, read_records
from confagent.history import _db as db_module
from confagent.history._db import PRUNE_EVERY, stored_row


def _record(index: int, time_s: float, resource: str = "a.toml") -> HistoryRecord:
    return HistoryRecord(time_s=time_s, host="h", resource=resource, dest=f"/etc/{resource}.conf",
                         revision=index, result="applied", changed_keys=(KeyChange("/k", str(index)),),
                         diff=f"+k={index}\n", secrets=("s",))


def test_records_are_stored_in_a_wal_file_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "state" / "history.db"
    database = HistoryDb(path, Bounds(3600, 100))
    (stored,) = database.add([_record(1, 1000.0)], 1000.0)
    database.close()
    assert stored.id == 1 and read_record(path, 1) == stored and read_record(path, 2) is None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_queries_filter_by_resource_or_dest_and_time_newest_first(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    database = HistoryDb(path, Bounds(3600, 100))
    database.add([_record(1, 100.0), _record(2, 200.0, "b.toml"), _record(3, 300.0)], 300.0)
    database.close()
    assert [r.revision for r in read_records(path)] == [3, 2, 1]
    assert [r.revision for r in read_records(path, target="a.toml")] == [3, 1]
    assert [r.revision for r in read_records(path, target="/etc/b.toml.conf")] == [2]
    assert [r.revision for r in read_records(path, since_s=150.0)] == [3, 2]
    assert [r.revision for r in read_records(path, limit=1)] == [3]


def test_the_history_is_bounded_by_count_and_by_age(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    database = HistoryDb(path, Bounds(max_age_s=50, max_records=10))
    for index in range(PRUNE_EVERY - 1):
        database.add([_record(index, 1000.0 + index)], 1000.0 + index)
    assert len(read_records(path, limit=1000)) == PRUNE_EVERY - 1  # pruned every PRUNE_EVERY records
    database.add([_record(PRUNE_EVERY, 1100.0)], 1100.0)
    assert [r.revision for r in read_records(path, limit=1000)] == [100, *range(98, 89, -1)]
    assert database.prune(1145.0) == 5  # those older than 1095
    database.close()
    assert [r.revision for r in read_records(path)] == [100, 98, 97, 96, 95]


def test_a_file_that_cannot_be_opened_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StorageError, match="history"):
        HistoryDb(tmp_path / "file" / "history.db", Bounds(1, 1))
    with pytest.raises(StorageError, match="no history at"):
        read_records(tmp_path / "missing.db")
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    with pytest.raises(StorageError, match=r"garbage\.db"):
        read_records(tmp_path / "garbage.db")


def test_rows_go_in_a_statement_at_a_time_with_their_ids_in_order(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Three rows, two at most per statement: each read back has the id its place gives it."""
    monkeypatch.setattr(db_module, "ROWS_PER_STATEMENT", 2)
    path = tmp_path / "history.db"
    database = HistoryDb(path, Bounds(3600, 100))
    rows = [stored_row(_record(index, 100.0, f"{index}.toml")) for index in (1, 2, 3)]
    first_id = database.add_rows(rows, 100.0)
    database.close()
    assert first_id == 1
    assert [(record.id, record.resource) for record in reversed(read_records(path))] == [
        (1, "1.toml"), (2, "2.toml"), (3, "3.toml")]
