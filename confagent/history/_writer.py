"""The history's writer process, ``python -m confagent.history._writer PATH MAX_AGE_S MAX_RECORDS``, and the
wire between it and the agent (``_writer_process`` is the agent's end).

Rules:
1. It runs at idle priority from its start (``_writer_process`` rule 1).
2. It opens the database as it starts (created with its schema, pruned),
   before the first pass comes; one it cannot open then is opened for the
   first batch, and the failure reported then (rule 3). Its standard input
   carries passes, each a frame (``frame``): a 4-byte
   little-endian length, then the pass's rows (``_db.Row``) as ``marshal``
   data (the agent runs the same interpreter). It waits for a frame, sleeps
   ``BATCH_S`` (the agent's writes meanwhile wake nothing: nobody waits on
   the pipe), takes every whole frame that came, and stores their rows in
   one transaction (``HistoryDb.add_rows``).
3. Its standard output carries one report per batch, in order (``Report``):
   the number of passes and the id of the first row (the others follow it
   one by one, in the order sent), or the number of passes lost and why (a
   ``StorageError``; the database is closed, opened again for the next
   batch).
4. The end of its standard input (the agent closed it, or died) ends it,
   once what came before is stored. SIGINT and SIGTERM are ignored: a
   terminal's Ctrl-C or a service manager's stop reaches the agent, whose
   ``close`` ends the writer after its last batch.
5. It imports the standard library, ``_db`` and ``confagent.errors`` only
   (``confagent.history`` loads its names lazily): no renderer, no asyncio.
"""

from __future__ import annotations

import marshal
import os
import select
import signal
import struct
import sys
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from confagent.errors import StorageError
from confagent.history._db import Bounds, HistoryDb, Row

__all__ = ["BATCH_S", "Report", "frame", "main", "parse_reports"]

BATCH_S = 0.25
"""How long the writer gathers passes before storing them together (rule 2)."""
_LENGTH = struct.Struct("<I")
_READ_BYTES = 1 << 20
_STORED, _LOST = "stored", "lost"


def frame(rows: Sequence[Row]) -> bytes:
    """One pass's rows as the writer reads them (rule 2)."""
    data = marshal.dumps(list(rows))
    return _LENGTH.pack(len(data)) + data


@dataclass(frozen=True, slots=True)
class Report:
    """What became of the next ``passes`` passes sent (rule 3)."""

    passes: int
    first_id: int | None
    """The id of their first row; None: they were lost, for ``cause``."""
    cause: str = ""

    def line(self) -> bytes:
        if self.first_id is None:
            return f"{_LOST} {self.passes} {' '.join(self.cause.split())}\n".encode()
        return f"{_STORED} {self.passes} {self.first_id}\n".encode()


def parse_reports(data: bytes) -> tuple[list[Report], bytes]:
    """The whole report lines at the start of ``data``, and the rest (a line not yet whole)."""
    *lines, rest = data.split(b"\n")
    reports = []
    for line in lines:
        kind, passes, detail = line.decode().split(" ", 2)
        stored = kind == _STORED
        reports.append(Report(int(passes), int(detail)) if stored else Report(int(passes), None, detail))
    return reports, rest


class _PassReader:
    """The frames arriving on a pipe, a batch at a time (rule 2)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = bytearray()
        self.ended = False
        os.set_blocking(fd, False)

    def take(self, window_s: float) -> list[bytes]:
        """Wait for data (or the end), ``window_s`` more, and take every whole frame."""
        select.select([self._fd], [], [])
        self._read_available()
        if not self.ended:
            time.sleep(window_s)
            self._read_available()
        return self._whole_frames()

    def _read_available(self) -> None:
        while True:
            try:
                data = os.read(self._fd, _READ_BYTES)
            except BlockingIOError:
                return
            if not data:
                self.ended = True
                return
            self._buffer += data

    def _whole_frames(self) -> list[bytes]:
        frames, start, buffer = [], 0, self._buffer
        while len(buffer) - start >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(buffer, start)
            end = start + _LENGTH.size + length
            if end > len(buffer):
                break
            frames.append(bytes(buffer[start + _LENGTH.size:end]))
            start = end
        del buffer[:start]
        return frames


def _opened(path: Path, bounds: Bounds, time_s: float | None = None) -> HistoryDb:
    """The database, pruned as of ``time_s`` (default now); ``StorageError`` when it cannot be opened."""
    database = HistoryDb(path, bounds)
    try:
        database.prune(time.time() if time_s is None else time_s)
    except StorageError:
        database.close()
        raise
    return database


def _store(database: HistoryDb | None, path: Path, bounds: Bounds, frames: list[bytes]) -> HistoryDb | None:
    """Store a batch's rows and report it (rules 2 and 3); the database to use for the next batch."""
    rows: list[Row] = [row for data in frames for row in marshal.loads(data)]
    time_s = rows[-1][0]
    try:
        if database is None:
            database = _opened(path, bounds, time_s)
        first_id = database.add_rows(rows, time_s)
    except StorageError as error:
        _report(Report(len(frames), None, str(error)))
        if database is not None:
            database.close()
        return None
    _report(Report(len(frames), first_id))
    return database


def _report(report: Report) -> None:
    line = report.line()
    while line:
        line = line[os.write(sys.stdout.fileno(), line):]


def main(argv: Sequence[str]) -> None:
    """Store the passes arriving on standard input until it ends (module rules)."""
    path, bounds = Path(argv[0]), Bounds(float(argv[1]), int(argv[2]))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    passes = _PassReader(sys.stdin.fileno())
    database: HistoryDb | None = None
    with suppress(StorageError):  # opened again for the first batch, which reports the failure (rule 2)
        database = _opened(path, bounds)
    try:
        while not passes.ended:
            frames = passes.take(BATCH_S)
            if frames:
                database = _store(database, path, bounds, frames)
    finally:
        if database is not None:
            database.close()


if __name__ == "__main__":
    main(sys.argv[1:])
