"""The history's writer process and the agent's end of it: reports on the wire, idle priority, a full pipe,
a writer killed mid-run (the recorder goes on, logs the loss once, starts another), a writer stuck at close
(killed after ``CLOSE_TIMEOUT_S``), a writer that outlives nothing (its input ends, it exits), and a writer
gone but not exited that the event loop never waits for (with and without a pidfd)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from contextlib import closing
from pathlib import Path

import pytest
import structlog
from structlog.testing import capture_logs

from confagent.history import Bounds, HistoryRecorder, read_records
from confagent.history import _recorder as recorder_module
from confagent.history import _writer_process as writer_process_module
from confagent.history._writer import Report, frame, parse_reports
from confagent.history._writer_process import WriterProcess
from confagent.render import KeyView
from confagent.settings import HistoryConfig
from confagent.testing import until, until_async
from tests.history.test_recorder import _pass

_BOUNDS = Bounds(3600, 100_000)
_GONE = "the history's writer process is gone"


def test_reports_read_back_as_written_a_partial_line_kept() -> None:
    reports = [Report(3, 17), Report(2, None, "history /x: disk I/O error\nat line 2"), Report(1, 20)]
    data = b"".join(report.line() for report in reports)
    read, rest = parse_reports(data[:-3])
    assert read == [reports[0], Report(2, None, "history /x: disk I/O error at line 2")]
    assert parse_reports(rest + data[-3:]) == ([reports[2]], b"")


def test_the_writer_runs_at_idle_priority_and_ends_with_its_input(tmp_path: Path, subprocesses: None) -> None:
    writer = WriterProcess.start(tmp_path / "history.db", _BOUNDS)
    assert os.sched_getscheduler(writer.pid) == os.SCHED_IDLE
    writer.abandon()  # as if the agent died: the writer's input ends
    until(lambda: writer.exit_code is not None, "the writer to exit")
    assert writer.exit_code == 0


def test_the_writer_creates_its_database_as_it_starts(tmp_path: Path, subprocesses: None) -> None:
    path = tmp_path / "history.db"
    writer = WriterProcess.start(path, _BOUNDS)
    until(path.exists, "the writer to create its database")
    assert read_records(path) == []
    assert writer.close(timeout_s=30.0) == [] and writer.exit_code == 0


def test_a_database_the_writer_cannot_open_as_it_starts_is_reported_with_the_first_batch(
        tmp_path: Path, subprocesses: None) -> None:
    """The writer goes on (rule 2 of ``_writer``): the first pass is lost, and logged with the cause."""
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "history.db"
    recorder = HistoryRecorder(HistoryConfig(), path, log=structlog.get_logger("test"))
    recorder.start()
    writer_pid = recorder.writer_pid
    with capture_logs() as logs:
        recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
        assert recorder.flush()
    assert recorder.writer_pid == writer_pid and recorder.recorded == 0
    recorder.close()
    assert [(entry["event"], entry["records"]) for entry in logs] == [("history not recorded", 1)]
    assert str(path) in str(logs[0]["cause"])


def test_a_full_pipe_refuses_passes_and_stores_every_pass_taken(tmp_path: Path, subprocesses: None) -> None:
    """The writer stopped, passes of 100 kB each fill its pipe (the last one taken in part, its rest kept);
    once it runs again, every pass taken is stored, in order."""
    writer = WriterProcess.start(tmp_path / "history.db", _BOUNDS)
    os.kill(writer.pid, signal.SIGSTOP)
    taken = 0
    try:
        while writer.send(frame([(100.0, f"r{taken}", "/etc/r", b"x" * 100_000)])):
            taken += 1
    finally:
        os.kill(writer.pid, signal.SIGCONT)
    assert taken >= 1 and writer.unsent  # the pipe took the last one in part
    reports = writer.close(timeout_s=30.0)
    assert sum(report.passes for report in reports) == taken and all(r.first_id for r in reports)
    stored = _stored_resources(tmp_path / "history.db")
    assert stored == [f"r{index}" for index in range(taken)]


def _stored_resources(path: Path) -> list[str]:
    """The resource column of each row, oldest first (these rows hold no record's document)."""
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT resource FROM records ORDER BY id")]


def test_a_writer_killed_mid_run_is_logged_once_and_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             subprocesses: None) -> None:
    """The pass the killed writer held is lost, and logged with the signal; the passes after it go to a new
    writer, to the file and to the feed with their ids."""
    monkeypatch.setattr(recorder_module, "RESTART_DELAY_S", 0.0)
    path = tmp_path / "history.db"

    async def body() -> tuple[list[tuple[int, int]], list[dict[str, object]]]:
        recorder = HistoryRecorder(HistoryConfig(), path, log=structlog.get_logger("test"))
        feed = recorder.subscribe()
        recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
        await until_async(lambda: recorder.recorded == 1, "the first record")
        killed = recorder.writer_pid
        assert killed is not None
        with capture_logs() as logs:
            os.kill(killed, signal.SIGSTOP)  # it cannot store pass 2 before it dies
            recorder.submit(_pass(2), KeyView({"/a": "2"}, 2))
            os.kill(killed, signal.SIGKILL)
            await until_async(lambda: recorder.writer_pid is None, "the writer's end to be noticed")
            for index in (3, 4):
                recorder.submit(_pass(index), KeyView({"/a": str(index)}, index))
            await until_async(lambda: recorder.recorded == 3, "the records after the new writer started")
        assert recorder.writer_pid not in (None, killed)
        fed = [await asyncio.wait_for(feed.get(), 10) for _ in range(3)]
        await recorder.aclose()
        return [(record.id, record.revision) for record in fed], logs

    fed, logs = asyncio.run(body())
    assert fed == [(1, 1), (2, 3), (3, 4)]
    assert [(entry["cause"], entry["records"], entry["exit_code"]) for entry in logs] == [
        (_GONE, 1, -signal.SIGKILL)]
    assert [record.revision for record in read_records(path)] == [4, 3, 1]


def test_close_kills_a_writer_stuck_past_the_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     subprocesses: None) -> None:
    monkeypatch.setattr(recorder_module, "CLOSE_TIMEOUT_S", 0.5)
    recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))
    assert recorder.writer_pid is None  # none before the first pass
    recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
    assert recorder.flush()
    writer_pid = recorder.writer_pid
    assert writer_pid is not None
    os.kill(writer_pid, signal.SIGSTOP)
    recorder.submit(_pass(2), KeyView({"/a": "2"}, 2))
    with capture_logs() as logs:
        recorder.close()
    assert [(entry["event"], entry["records"]) for entry in logs] == [("history not recorded", 1)]
    assert "did not finish" in str(logs[0]["cause"]) and recorder.writer_pid is None


_GONE_NOT_EXITED = (sys.executable, "-c", "import os, time; os.close(0); os.close(1); time.sleep(60)")
"""A writer that closes its pipes at once, then stays alive (a minute at most) until a signal ends it."""


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polled"])
def test_the_loop_never_waits_for_a_writer_gone_not_exited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            subprocesses: None, pidfd: bool) -> None:
    """Its end is noticed and the loop goes on while it lives (a pass after it is taken, not recorded); its
    end is logged once, with its exit code and the pass it held, once it exits, and it is reaped. A wait for
    it on the loop would have blocked the loop, then given up, logging no exit code."""
    monkeypatch.setattr(writer_process_module, "WRITER_COMMAND", _GONE_NOT_EXITED)
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open")

    async def body() -> tuple[list[object], list[dict[str, object]]]:
        recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))
        try:
            with capture_logs() as logs:
                recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
                writer_pid = recorder.writer_pid
                assert writer_pid is not None
                await until_async(lambda: recorder.writer_pid is None, "the writer's end to be noticed")
                recorder.submit(_pass(2), KeyView({"/a": "2"}, 2))  # within RESTART_DELAY_S: not recorded
                logged_before_exit = list(logs)
                os.kill(writer_pid, signal.SIGTERM)
                await until_async(lambda: bool(logs), "the writer's exit to be logged")
            with pytest.raises(ChildProcessError):
                os.waitpid(writer_pid, os.WNOHANG)  # reaped already
            return logged_before_exit, logs
        finally:
            await recorder.aclose()

    logged_before_exit, logs = asyncio.run(body())
    assert logged_before_exit == []
    assert [(entry["cause"], entry["records"], entry["exit_code"]) for entry in logs] == [
        (_GONE, 1, -signal.SIGTERM)]


def test_close_kills_a_writer_gone_but_not_exited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  subprocesses: None) -> None:
    """No writer outlives the recorder: one whose end was noticed and that has not exited is killed after
    ``CLOSE_TIMEOUT_S``, logged with the signal, and reaped."""
    monkeypatch.setattr(writer_process_module, "WRITER_COMMAND", _GONE_NOT_EXITED)
    monkeypatch.setattr(recorder_module, "CLOSE_TIMEOUT_S", 0.5)

    async def body() -> tuple[int, list[dict[str, object]]]:
        recorder = HistoryRecorder(HistoryConfig(), tmp_path / "history.db", log=structlog.get_logger("test"))
        with capture_logs() as logs:
            recorder.submit(_pass(1), KeyView({"/a": "1"}, 1))
            writer_pid = recorder.writer_pid
            assert writer_pid is not None
            await until_async(lambda: recorder.writer_pid is None, "the writer's end to be noticed")
            await recorder.aclose()
        return writer_pid, logs

    writer_pid, logs = asyncio.run(body())
    assert [(entry["cause"], entry["records"], entry["exit_code"]) for entry in logs] == [
        (_GONE, 1, -signal.SIGKILL)]
    with pytest.raises(ChildProcessError):
        os.waitpid(writer_pid, os.WNOHANG)
