"""reload_cmd: once per distinct command for a batch; on failure the previous files come back and reload."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from confagent.apply import apply_batch, apply_plan, plan_file
from confagent.errors import ReloadFailed
from confagent.resource import Plan
from tests.apply.support import NOBODY, attributes_of, leftovers, make_spec, run

pytestmark = pytest.mark.usefixtures("subprocesses")  # every case runs check and reload commands


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def previous_file(dest: Path) -> tuple[bytes, int, int, int]:
    dest.write_bytes(b"old\n")
    os.chown(dest, NOBODY, 1234)
    dest.chmod(0o600)
    return attributes_of(dest)


def test_reload_runs_after_the_replace_with_dest_filled_in(tmp_path: Path) -> None:
    dest, log = tmp_path / "app.conf", tmp_path / "log"
    result = run(apply_plan(plan_file(make_spec(dest, reload_cmd=f"cat {{{{.dest}}}} >> {log}"), b"new\n")))
    assert (result.ok, result.replaced, lines(log)) == (True, True, ["new"])
    assert result.commands[0].command == f"cat {dest} >> {log}"


def test_failed_reload_restores_bytes_owner_and_mode_and_reloads_again(tmp_path: Path) -> None:
    dest, log = tmp_path / "app.conf", tmp_path / "log"
    before = previous_file(dest)
    reload_cmd = f"cat {dest} >> {log}; grep -q new {dest} && {{ echo 'bad config' >&2; exit 1; }}; true"
    spec = make_spec(dest, uid=0, gid=0, mode=0o644, reload_cmd=reload_cmd)
    result = run(apply_plan(plan_file(spec, b"new\n")))
    assert isinstance(result.error, ReloadFailed)
    assert (result.error.rolled_back, result.rolled_back, result.replaced) == (True, True, False)
    assert str(result.error) == (f"{dest}: reload_cmd exited 1 (bad config); "
                                 "restored the previous file and reloaded")
    assert attributes_of(dest) == before
    assert lines(log) == ["new", "old"]  # the reload saw the new file, then the restored one
    assert [command.exit_code for command in result.commands] == [1, 0]
    assert leftovers(tmp_path) == []


def test_reload_failing_after_the_rollback_too_is_reported(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    before = previous_file(dest)
    result = run(apply_plan(plan_file(make_spec(dest, reload_cmd="exit 7"), b"new\n")))
    assert isinstance(result.error, ReloadFailed)
    assert str(result.error).endswith("restored the previous file; reloading it exited 7 too")
    assert attributes_of(dest) == before


def test_rollback_false_keeps_the_new_file(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    previous_file(dest)
    result = run(apply_plan(plan_file(make_spec(dest, rollback=False, reload_cmd="exit 1"), b"new\n")))
    assert isinstance(result.error, ReloadFailed)
    assert (result.replaced, result.rolled_back, dest.read_bytes()) == (True, False, b"new\n")
    assert str(result.error).endswith("kept the new file (rollback = false)")
    assert len(result.commands) == 1


def test_rollback_of_a_new_file_removes_it(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    result = run(apply_plan(plan_file(make_spec(dest, reload_cmd="exit 1"), b"new\n")))
    assert isinstance(result.error, ReloadFailed)
    assert "removed the new file (there was none before)" in str(result.error)
    assert (dest.exists(), leftovers(tmp_path)) == (False, [])


def test_hanging_reload_times_out_and_rolls_back(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    before = previous_file(dest)
    reload_cmd = f"grep -q new {dest} && sleep 30; true"
    result = run(apply_plan(plan_file(make_spec(dest, reload_cmd=reload_cmd, timeout_s=0.3), b"new\n")))
    assert isinstance(result.error, ReloadFailed)
    assert result.error.timed_out
    assert (attributes_of(dest), result.rolled_back) == (before, True)


def batch(tmp_path: Path, names: list[str], reload_cmd: str, **fields: object) -> list[Plan]:
    return [plan_file(make_spec(tmp_path / name, reload_cmd=reload_cmd, **fields), f"{name}\n".encode())
            for name in names]


def test_same_reload_cmd_runs_once_for_the_batch(tmp_path: Path) -> None:
    log = tmp_path / "log"
    plans = batch(tmp_path, ["a.conf", "b.conf", "c.conf"], f"echo reload >> {log}")
    plans += batch(tmp_path, ["d.conf"], f"echo other >> {log}")
    results = run(apply_batch(plans))
    assert all(result.ok and result.replaced for result in results)
    assert lines(log) == ["reload", "other"]
    assert results[0].commands == results[1].commands == results[2].commands


def test_reload_cmd_with_dest_runs_per_file(tmp_path: Path) -> None:
    log = tmp_path / "log"
    run(apply_batch(batch(tmp_path, ["a.conf", "b.conf"], f"basename {{{{.dest}}}} >> {log}")))
    assert lines(log) == ["a.conf", "b.conf"]


def test_failed_group_reload_rolls_back_every_member(tmp_path: Path) -> None:
    log = tmp_path / "log"
    for name in ("a.conf", "b.conf"):
        (tmp_path / name).write_bytes(b"old\n")
    reload_cmd = f"echo reload >> {log}; grep -q a.conf {tmp_path}/a.conf && exit 1; true"
    plans = batch(tmp_path, ["a.conf"], reload_cmd) + batch(tmp_path, ["b.conf"], reload_cmd, rollback=False)
    results = run(apply_batch(plans))
    assert [(r.rolled_back, r.replaced, type(r.error)) for r in results] == [
        (True, False, ReloadFailed), (False, True, ReloadFailed)]
    assert ((tmp_path / "a.conf").read_bytes(), (tmp_path / "b.conf").read_bytes()) == (b"old\n", b"b.conf\n")
    assert lines(log) == ["reload", "reload"]  # once, and once more after the rollback


def test_failed_check_keeps_a_file_out_of_its_reload_group(tmp_path: Path) -> None:
    log = tmp_path / "log"
    reload_cmd = f"echo reload >> {log}"
    plans = batch(tmp_path, ["a.conf"], reload_cmd, check_cmd="exit 1")
    plans += batch(tmp_path, ["b.conf"], reload_cmd)
    failed, done = run(apply_batch(plans))
    assert (failed.replaced, [c.exit_code for c in failed.commands]) == (False, [1])
    assert (done.replaced, done.ok, lines(log)) == (True, True, ["reload"])
    assert not (tmp_path / "a.conf").exists()
