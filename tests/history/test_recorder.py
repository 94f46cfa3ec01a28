"""``HistoryRecorder`` with its writer process: a pass costs the caller one non-blocking call, even when
the writer is stuck behind a lock (the pass is dropped with a warning), and the writer goes on once the lock
is gone; ids come back in order, to the feed too."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from confagent.history import Bounds, HistoryDb, HistoryRecord, HistoryRecorder, read_records
from confagent.history import _recorder as recorder_module
from confagent.history._db import BUSY_TIMEOUT_S
from confagent.render import KeyView, Reads
from confagent.settings import HistoryConfig
from confagent.testing import until
from tests.history.test_record import _Applied, _replace


def _pass(index: int) -> list[_Applied]:
    return [_Applied("r", "/etc/a.conf", index, changed=True, reads=Reads(keys=frozenset({"/a"})),
                     plan=_replace(b"old\n", f"new {index}\n".encode(), check=None))]


def test_submit_never_waits_for_a_stuck_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               subprocesses: None) -> None:
    monkeypatch.setattr(recorder_module, "MAX_PENDING", 3)
    path = tmp_path / "history.db"
    HistoryDb(path, Bounds(3600, 100)).close()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    recorder = HistoryRecorder(HistoryConfig(), path, log=structlog.get_logger("test"))
    try:
        with capture_logs() as logs:
            started = time.monotonic()
            for index in range(1, 8):
                recorder.submit(_pass(index), KeyView({"/a": str(index)}, index))
            took_s = time.monotonic() - started
        assert took_s < BUSY_TIMEOUT_S  # no submit waited for the writer's lock
        assert [entry["cause"] for entry in logs if entry["event"] == "history not recorded"][:1] == [
            "the writer is behind"]
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert recorder.flush()  # what was queued is written, now the lock is gone
    recorder.submit(_pass(9), KeyView({"/a": "9"}, 9))
    assert recorder.flush()
    recorder.close()
    assert read_records(path, limit=1)[0].revision == 9


def test_a_batch_goes_in_with_its_ids_in_order(tmp_path: Path, subprocesses: None) -> None:
    """Each record read back has the id its place in the pass gives it."""
    recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))
    three = [_Applied(name, f"/etc/{name}.conf", 7, changed=True, reads=Reads(keys=frozenset({"/a"})),
                      plan=_replace(b"old\n", f"new {name}\n".encode(), check=None)) for name in "abc"]
    recorder.submit(three, KeyView({"/a": "1"}, 7))
    assert recorder.flush()
    recorder.close()
    stored = read_records(tmp_path / "history.db")
    assert [(record.resource, record.id) for record in reversed(stored)] == [("a", 1), ("b", 2), ("c", 3)]
    assert recorder.recorded == 3


def test_start_runs_the_writer_which_creates_the_database_before_any_pass(tmp_path: Path,
                                                                          subprocesses: None) -> None:
    """``start`` (the daemon's, when it opens the recorder) spawns the writer now, once; the writer creates
    the database as it starts, and the first pass goes to that writer."""
    path = tmp_path / "history.db"
    recorder = HistoryRecorder(HistoryConfig(), path, log=structlog.get_logger("test"))
    try:
        recorder.start()
        writer_pid = recorder.writer_pid
        assert writer_pid is not None
        recorder.start()
        assert recorder.writer_pid == writer_pid
        until(path.exists, "the writer to create its database")
        assert read_records(path) == []
        recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
        assert recorder.flush()
        assert recorder.writer_pid == writer_pid
    finally:
        recorder.close()
    assert [(record.id, record.revision) for record in read_records(path)] == [(1, 1)]


def test_the_feed_gets_what_was_submitted_while_it_was_followed_with_the_ids_stored(
        tmp_path: Path, subprocesses: None) -> None:
    """A pass submitted before anyone follows the feed is stored and not fed; the next pass is fed, each
    record with the id of its row."""
    recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))

    async def follow() -> list[tuple[int, int]]:
        recorder.submit(_pass(1) + _pass(2), KeyView({"/a": "1"}, 2))
        feed = recorder.subscribe()
        recorder.submit(_pass(3), KeyView({"/a": "3"}, 3))
        await asyncio.to_thread(recorder.flush)
        record = await asyncio.wait_for(feed.get(), FEED_WAIT_S)
        return [(record.id, record.revision)] + [(item.id, item.revision) for item in _drain(feed)]

    assert asyncio.run(follow()) == [(3, 3)]
    recorder.close()
    assert [record.id for record in read_records(tmp_path / "history.db")] == [3, 2, 1]


FEED_WAIT_S = 10.0


def _drain(feed: asyncio.Queue[HistoryRecord]) -> list[HistoryRecord]:
    items = []
    while not feed.empty():
        items.append(feed.get_nowait())
    return items


def test_a_fault_in_building_records_is_logged_and_the_pass_goes_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subprocesses: None) -> None:
    """Records are built on the caller's thread (rule 1): a bug there is logged, not raised into the agent."""
    def broken(*_: object, **__: object) -> list[HistoryRecord]:
        raise KeyError("/a")

    recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))
    monkeypatch.setattr(recorder_module, "records_of", broken)
    with capture_logs() as logs:
        recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
    recorder.close()
    assert [(entry["event"], entry["cause"]) for entry in logs] == [
        ("history not recorded", "KeyError: '/a'")]
    assert recorder.recorded == 0
