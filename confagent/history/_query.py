"""Queries of the render history's file: the newest records, or one by its id, each on its own connection.

Rules:
1. Each query opens the file read-only, reads, and closes it (``_db`` rule 2):
   the CLI reads it without a running agent, the agent's listener on a
   thread, while the writer process adds to it (WAL: readers do not wait
   for the writer).
2. Queries give the newest records first, at most ``limit``; a target
   matches a record whose resource or dest is that text.
3. A file that is missing, unreadable or not a database is a
   ``StorageError`` naming it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import orjson

from confagent.errors import StorageError
from confagent.history._db import BUSY_TIMEOUT_S
from confagent.history._record import HistoryRecord

__all__ = ["DEFAULT_LIMIT", "read_record", "read_records"]

DEFAULT_LIMIT = 100


def _reader(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise StorageError(f"no history at {path} (the agent records it there once it applies something)")
    try:
        return sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as error:
        raise StorageError(f"history {path}: {error}") from error


def read_records(path: Path, *, target: str | None = None, since_s: float | None = None,
                 limit: int = DEFAULT_LIMIT) -> list[HistoryRecord]:
    """The newest records (rule 2), of ``target`` (a resource or dest) if given, from ``since_s`` on."""
    clauses = ["time_s >= ?"]
    parameters: list[float | str] = [since_s if since_s is not None else float("-inf")]
    if target is not None:
        clauses.append("(resource = ? OR dest = ?)")
        parameters += [target, target]
    query = (f"SELECT id, document FROM records WHERE {' AND '.join(clauses)} "
             "ORDER BY id DESC LIMIT ?")
    try:
        with closing(_reader(path)) as connection:
            rows = connection.execute(query, (*parameters, limit)).fetchall()
    except sqlite3.Error as error:
        raise StorageError(f"history {path}: {error}") from error
    return [HistoryRecord.from_stored(row[0], orjson.loads(row[1])) for row in rows]


def read_record(path: Path, record_id: int) -> HistoryRecord | None:
    """The record ``record_id``; None when there is none (pruned, or never made)."""
    try:
        with closing(_reader(path)) as connection:
            row = connection.execute("SELECT id, document FROM records WHERE id = ?", (record_id,)).fetchone()
    except sqlite3.Error as error:
        raise StorageError(f"history {path}: {error}") from error
    return None if row is None else HistoryRecord.from_stored(row[0], orjson.loads(row[1]))
