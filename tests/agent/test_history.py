"""The render history of a running daemon over the embedded store: what each apply and refused apply
records (revision, changed keys, diff, commands), secrets masked, restarts, and databases that cannot be
written (locked, read-only) never stopping an apply.

The daemon runs in this process (``tests.agent.test_daemon.running``); its check and reload commands are
real shells (hence ``subprocesses``). Waits are bounded polls on the files and the recorder.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import structlog

from confagent.agent import StatusApp, StatusBoard
from confagent.history import MASK, Bounds, HistoryDb, HistoryRecord, HistoryRecorder, read_records
from confagent.settings import HistoryConfig
from confagent.testing import until_async
from tests.agent.support import resource_toml, run, seed_store, write, write_confdir
from tests.agent.test_daemon import Running, running

_CHECK = "! grep -q bad {{.src}}"
_RELOAD = "! grep -q boom {{.dest}}"
_TEMPLATE = 'v={{ getv("/app/v") }}\npassword={{ getv("/app/db_password", "") }}\n'


def _confdir(root: Path, history: str = "") -> Path:
    write_confdir(root, {"a.toml": resource_toml("a.tmpl", root / "a.out", '["/app"]',
                                                 f"check_cmd = '{_CHECK}'\nreload_cmd = '{_RELOAD}'")},
                  {"a.tmpl": _TEMPLATE})
    config = root / "confagent.toml"
    config.write_text(f"[history]\n{history}\n")
    return config


def _text(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


async def _records_after(agent: Running, count: int) -> list[HistoryRecord]:
    """The history's records, oldest first, once the recorder stored ``count`` of them."""
    await until_async(lambda: agent.daemon.status.history is not None, "the daemon to serve")
    history = agent.daemon.status.history
    assert history is not None
    await until_async(lambda: history.recorded >= count, f"{count} records")
    return list(reversed(await history.records()))


def _newest_value(database: Path) -> str | None:
    """The value of the first key changed in the newest record."""
    newest = read_records(database, limit=1)
    return newest[0].changed_keys[0].value if newest and newest[0].changed_keys else None


async def _revision(agent: Running) -> int:
    return agent.backend.node.kv.revision


def test_a_put_a_check_failure_a_rollback_and_a_template_error_are_recorded(
        tmp_path: Path, subprocesses: None) -> None:
    config = _confdir(tmp_path)
    out = tmp_path / "a.out"
    seed_store(tmp_path / "data", {"/app/v": "1", "/app/db_password": "hunter2"})  # the first pass applies

    async def body() -> list[tuple[HistoryRecord, int]]:
        seen: list[tuple[HistoryRecord, int]] = []
        async with running(tmp_path, config_file=config) as agent:
            await until_async(lambda: _text(out) == "v=1\npassword=hunter2\n", "the first render")
            await _records_after(agent, 1)
            feed = agent.daemon.status.history.subscribe()  # type: ignore[union-attr]
            for value, count in (("2", 2), ("bad", 3), ("boom", 4)):
                await write(agent.backend, {"/app/v": value})
                revision = await _revision(agent)
                seen.append(((await _records_after(agent, count))[-1], revision))
            await write(agent.backend, {}, deletes=["/app/v"])
            revision = await _revision(agent)
            seen.append(((await _records_after(agent, 5))[-1], revision))
            live = [await asyncio.wait_for(feed.get(), 10) for _ in range(4)]
            assert [record.id for record in live] == [record.id for record, _ in seen]
            assert _text(out) == "v=2\npassword=hunter2\n"  # the refused ones left it as it was
        return seen

    (applied, applied_at), (check, check_at), (reload, reload_at), (template, template_at) = run(body)
    assert (applied.result, applied.revision, applied.error) == ("applied", applied_at, None)
    assert [(c.key, c.value) for c in applied.changed_keys] == [("/app/v", "2")]
    assert "-v=1\n+v=2\n" in applied.diff and applied.host
    assert [(c.role, c.exit_code) for c in applied.commands] == [("check", 0), ("reload", 0)]

    assert (check.result, check.revision) == ("check failed", check_at)
    assert [(c.key, c.value) for c in check.changed_keys] == [("/app/v", "bad")]
    assert "-v=2\n+v=bad\n" in check.diff
    assert [(c.role, c.exit_code) for c in check.commands] == [("check", 1)]

    assert (reload.result, reload.revision, reload.rolled_back) == ("reload failed", reload_at, True)
    assert [(c.key, c.value) for c in reload.changed_keys] == [("/app/v", "boom")]
    assert [(c.role, c.exit_code) for c in reload.commands] == [("check", 0), ("reload", 1),
                                                                ("reload after rollback", 0)]

    assert (template.result, template.revision, template.diff) == ("template error", template_at, "")
    assert [(c.key, c.value) for c in template.changed_keys] == [("/app/v", None)]
    assert template.error is not None and "/app/v" in template.error


def test_secret_values_are_masked_unless_asked_for(tmp_path: Path, subprocesses: None) -> None:
    config = _confdir(tmp_path)
    seed_store(tmp_path / "data", {"/app/v": "1"})

    async def body() -> HistoryRecord:
        async with running(tmp_path, config_file=config) as agent:
            await _records_after(agent, 1)
            await write(agent.backend, {"/app/db_password": "hunter2"})
            return (await _records_after(agent, 2))[-1]

    record = run(body)
    masked = record.as_json()
    assert "hunter2" not in str(masked) and f"+password={MASK}" in str(masked["diff"])
    assert masked["changed_keys"] == [{"key": "/app/db_password", "value": MASK}]
    assert "+password=hunter2" in str(record.as_json(show_secrets=True)["diff"])


def test_the_history_survives_a_restart(tmp_path: Path, subprocesses: None) -> None:
    config = _confdir(tmp_path)
    seed_store(tmp_path / "data", {"/app/v": "0"})

    async def body(value: str, count: int) -> list[HistoryRecord]:
        async with running(tmp_path, config_file=config) as agent:
            await until_async(lambda: (_text(tmp_path / "a.out") or "").startswith("v="), "the first pass")
            await write(agent.backend, {"/app/v": value})
            await _records_after(agent, count)
            history = agent.daemon.status.history
            assert history is not None
            return await history.records()

    run(lambda: body("1", 2))  # the first render, then the put
    records = run(lambda: body("2", 1))  # the file holds what the store does: only the put
    assert [(r.result, r.changed_keys[0].value) for r in records] == [
        ("applied", "2"), ("applied", "1"), ("applied", "0")]
    assert [c.key for c in records[-1].changed_keys] == ["/app/v"]  # a first render lists every key read
    assert read_records(tmp_path / "data" / "history.db")[0].id == records[0].id


def test_a_locked_database_does_not_stop_applies(tmp_path: Path, subprocesses: None) -> None:
    config = _confdir(tmp_path)
    out = tmp_path / "a.out"
    seed_store(tmp_path / "data", {"/app/v": "1"})

    async def body() -> None:
        async with running(tmp_path, config_file=config) as agent:
            await _records_after(agent, 1)
            locker = sqlite3.connect(tmp_path / "data" / "history.db", isolation_level=None)
            locker.execute("BEGIN EXCLUSIVE")
            try:
                for value in ("2", "3"):
                    await write(agent.backend, {"/app/v": value})
                    await until_async(lambda v=value: _text(out) == f"v={v}\npassword=\n",  # type: ignore[misc]
                                      "the apply while the history is locked")
            finally:
                locker.execute("ROLLBACK")
                locker.close()
            await write(agent.backend, {"/app/v": "4"})
            await until_async(lambda: _newest_value(tmp_path / "data" / "history.db") == "4",
                              "the record of the apply after the lock")

    run(body)


@contextmanager
def _read_only(path: Path) -> Iterator[None]:
    """``path`` read-only, for root too (an immutable file: ``chattr +i``)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(stat.S_IRUSR)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


def test_a_read_only_database_does_not_stop_applies(tmp_path: Path, subprocesses: None) -> None:
    config = _confdir(tmp_path)
    database = tmp_path / "data" / "history.db"
    HistoryDb(database, Bounds(60, 10)).close()
    out = tmp_path / "a.out"

    async def body() -> None:
        async with running(tmp_path, config_file=config) as agent:
            for value in ("1", "2"):
                await write(agent.backend, {"/app/v": value})
                await until_async(lambda v=value: _text(out) == f"v={v}\npassword=\n",  # type: ignore[misc]
                                  "the apply with a read-only history")
            history = agent.daemon.status.history
            assert history is not None and await asyncio.to_thread(history.flush)
            assert history.recorded == 0

    with _read_only(database):
        run(body)


def test_the_listener_serves_the_history_masked(tmp_path: Path) -> None:
    board = StatusBoard()
    app = StatusApp(board)

    async def body() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as http:
            assert (await http.get("/v1/history")).status_code == 404  # no history kept
            database = tmp_path / "history.db"
            board.history = HistoryRecorder(HistoryConfig(), database, log=structlog.get_logger("test"))
            try:
                HistoryDb(database, Bounds(3600, 10)).add([HistoryRecord(
                    time_s=100.0, host="h", resource="a.toml", dest="/etc/a", revision=3, result="applied",
                    diff="+pw=hunter2\n", secrets=("hunter2",))], 100.0)
                listed = (await http.get("/v1/history", params={"target": "/etc/a", "since": "50"})).json()
                assert [(r["id"], r["revision"]) for r in listed["records"]] == [(1, 3)]
                assert (await http.get("/v1/history", params={"since": "150"})).json() == {"records": []}
                shown = (await http.get("/v1/history/1")).json()
                assert shown["diff"] == f"+pw={MASK}\n"
                assert (await http.get("/v1/history/2")).status_code == 404
                assert (await http.get("/v1/history", params={"limit": "x"})).status_code == 400
                assert (await http.get("/v1/historyx")).status_code == 404
            finally:
                board.history.close()

    run(body)
