"""``HistoryDb``: the render history's SQLite file and its writer's connection — add rows, keep it bounded.

Rules:
1. One file (``HistoryConfig.database``), WAL mode, created with its
   directory on first write, mode 0600 (it holds secret values unmasked).
   A record is one row: the columns queries filter on (time, resource,
   dest) and the whole record as JSON (``HistoryRecord.stored_json``).
2. A connection belongs to the process and thread that opened it: the
   writer process (``_writer``) has one, ``record_now`` one of its own; each
   query (``_query``) opens its own, read-only, and closes it.
3. Every ``sqlite3.Error`` and ``OSError`` is raised as a ``StorageError``
   naming the file: the writer reports it and goes on; a reader shows it.
4. ``prune`` deletes what ``Bounds`` says goes; ``add`` calls it every
   ``PRUNE_EVERY`` records, and opening calls it once.
5. A batch of rows goes in with one statement (per ``ROWS_PER_STATEMENT``),
   all its rows' values bound at once (one step of SQLite per statement).
6. The writer process imports this module and nothing heavier: the
   standard library, orjson and ``confagent.errors`` (no renderer).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from contextlib import closing, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from confagent.errors import StorageError

if TYPE_CHECKING:
    from confagent.history._record import HistoryRecord

__all__ = ["BUSY_TIMEOUT_S", "PRUNE_EVERY", "ROWS_PER_STATEMENT", "Bounds", "HistoryDb", "Row", "stored_row"]

BUSY_TIMEOUT_S = 2.0
"""How long a write waits for a lock another connection holds (in the writer process: no apply waits)."""
PRUNE_EVERY = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time_s REAL NOT NULL,
    resource TEXT NOT NULL,
    dest TEXT NOT NULL,
    document BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_time ON records (time_s);
CREATE INDEX IF NOT EXISTS records_resource ON records (resource, id);
CREATE INDEX IF NOT EXISTS records_dest ON records (dest, id);
"""
_INSERT = "INSERT INTO records (time_s, resource, dest, document) VALUES "
ROWS_PER_STATEMENT = 1000
"""Rule 5: 4,000 parameters, under SQLite's 32,766."""


@dataclass(frozen=True, slots=True)
class Bounds:
    """Which records are kept: those no older than ``max_age_s``, the newest ``max_records`` (rule 4)."""

    max_age_s: float
    max_records: int

    def __post_init__(self) -> None:
        assert self.max_age_s > 0 and self.max_records >= 1

    def oldest_time_s(self, now_s: float) -> float:
        """Records older than this go."""
        return now_s - self.max_age_s

    def oldest_id(self, newest_id: int) -> int:
        """Records with a smaller id go (ids grow by one per record)."""
        return newest_id - self.max_records + 1


class HistoryDb:
    """The writer's connection (rule 2): ``add`` records, ``prune`` them."""

    def __init__(self, path: Path, bounds: Bounds) -> None:
        self.path = path
        self._bounds = bounds
        self._added = 0
        try:
            if not path.exists():
                _create(path)
            self._connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self._connection.execute("PRAGMA synchronous=NORMAL")
        except (sqlite3.Error, OSError) as error:
            raise StorageError(f"history {path}: {error}") from error

    def close(self) -> None:
        self._connection.close()

    def add(self, records: Sequence[HistoryRecord], now_s: float) -> list[HistoryRecord]:
        """Store ``records`` in one transaction; they come back with their ids."""
        first_id = self.add_rows([stored_row(record) for record in records], now_s)
        return [replace(record, id=first_id + index) for index, record in enumerate(records)]

    def add_rows(self, rows: Sequence[Row], now_s: float) -> int:
        """Store ``rows`` (``stored_row``) in one transaction and one statement (rule 5); the id of the
        first, the others following it one by one (AUTOINCREMENT, no other writer in the transaction)."""
        try:
            with self._connection:
                self._connection.execute("BEGIN IMMEDIATE")
                for start in range(0, len(rows), ROWS_PER_STATEMENT):
                    chunk = rows[start:start + ROWS_PER_STATEMENT]
                    self._connection.execute(_INSERT + ",".join(("(?, ?, ?, ?)",) * len(chunk)),
                                             [value for row in chunk for value in row])
                last_id: int = self._connection.execute("SELECT last_insert_rowid()").fetchone()[0]
        except sqlite3.Error as error:
            raise StorageError(f"history {self.path}: {error}") from error
        self._added += len(rows)
        if self._added >= PRUNE_EVERY:
            self._added = 0
            self.prune(now_s)
        return last_id - len(rows) + 1

    def prune(self, now_s: float) -> int:
        """Delete the records ``Bounds`` says go (rule 4); how many went."""
        try:
            with self._connection:
                newest = self._connection.execute("SELECT MAX(id) FROM records").fetchone()[0] or 0
                cursor = self._connection.execute(
                    "DELETE FROM records WHERE time_s < ? OR id < ?",
                    (self._bounds.oldest_time_s(now_s), self._bounds.oldest_id(newest)))
        except sqlite3.Error as error:
            raise StorageError(f"history {self.path}: {error}") from error
        return cursor.rowcount


Row = tuple[float, str, str, bytes]
"""A record as its row holds it: time, resource, dest, and the whole record as JSON (rule 1)."""


def stored_row(record: HistoryRecord) -> Row:
    return record.time_s, record.resource, record.dest, orjson.dumps(record.stored_json())


def _create(path: Path) -> None:
    """A new history file with its schema, in WAL mode, mode 0600: made beside ``path`` and renamed, so that
    a reader never finds the file without its table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = path.with_name(f".{path.name}.{os.getpid()}.new")
    os.close(os.open(new, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600))
    try:
        with closing(sqlite3.connect(new, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
        os.replace(new, path)
    finally:
        with suppress(FileNotFoundError):
            new.unlink()
