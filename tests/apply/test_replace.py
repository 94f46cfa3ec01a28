"""Staging, checking and replacing one destination: owner and mode, check_cmd, file-system failures."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.apply import MAX_FILE_BYTES, ApplyResult, apply_batch, apply_plan, plan_file, read_file_state
from confagent.errors import ApplyError, CheckFailed
from confagent.resource import FileAttributes, NoChange, Replace
from confagent.testing import until
from tests.apply.support import (
    DEADLINE_S,
    NOBODY,
    attributes_of,
    leftovers,
    make_spec,
    process_gone,
    run,
    run_as,
)


def apply(spec_dest: Path, content: bytes, **fields: object) -> ApplyResult:
    return run(apply_plan(plan_file(make_spec(spec_dest, **fields), content)))


def test_new_file_gets_content_owner_and_mode(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    result = apply(dest, b"new\n", uid=NOBODY, gid=NOBODY, mode=0o640)
    assert (result.ok, result.replaced, result.commands) == (True, True, ())
    assert attributes_of(dest) == (b"new\n", NOBODY, NOBODY, 0o640)
    assert leftovers(tmp_path) == []
    assert isinstance(plan_file(make_spec(dest, uid=NOBODY, gid=NOBODY, mode=0o640), b"new\n"), NoChange)


def test_in_sync_file_runs_nothing(tmp_path: Path) -> None:
    dest, marker = tmp_path / "app.conf", tmp_path / "ran"
    dest.write_bytes(b"same\n")
    plan = plan_file(make_spec(dest, check_cmd=f"touch {marker}", reload_cmd=f"touch {marker}"), b"same\n")
    assert isinstance(plan, NoChange)
    (result,) = run(apply_batch([plan]))
    assert (result.ok, result.replaced, result.commands, marker.exists()) == (True, False, (), False)


def test_unset_owner_and_mode_keep_the_existing_ones(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"old\n")
    os.chown(dest, NOBODY, 1234)
    dest.chmod(0o600)
    apply(dest, b"new\n")
    assert attributes_of(dest) == (b"new\n", NOBODY, 1234, 0o600)


def test_mode_drift_alone_is_a_replace(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"x\n")
    dest.chmod(0o666)
    plan = plan_file(make_spec(dest, mode=0o644), b"x\n")
    assert isinstance(plan, Replace)
    assert [str(d) for d in plan.differences] == ["mode 0666 -> 0644"]
    run(apply_plan(plan))
    assert attributes_of(dest)[3] == 0o644


def test_owner_and_group_names(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    apply(dest, b"x", owner="nobody", group="nogroup")
    assert attributes_of(dest)[1:3] == (NOBODY, NOBODY)
    apply(dest, b"x", owner="0", group="0")
    assert attributes_of(dest)[1:3] == (0, 0)


def test_unknown_owner_is_an_error_naming_the_dest(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    with pytest.raises(ApplyError) as caught:
        plan_file(make_spec(dest, owner="no-such-user-here"), b"x")
    assert str(caught.value) == f"{dest}: owner: no user named 'no-such-user-here' on this host"


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_check_cmd_sees_the_stage_file(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    seen = tmp_path / "seen"
    result = apply(dest, b"new content\n", mode=0o600,
                   check_cmd=f"cat {{{{.src}}}} > {seen}; stat -c %a {{{{ src }}}} >> {seen}; "
                             f"test {{{{.dest}}}} = {dest}")
    assert result.ok, result.error
    assert seen.read_text() == "new content\n600\n"
    assert result.commands[0].command.startswith(f"cat {tmp_path}/.app.conf.")


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_check_failure_leaves_dest_untouched(tmp_path: Path) -> None:
    dest, marker = tmp_path / "app.conf", tmp_path / "reloaded"
    dest.write_bytes(b"old\n")
    dest.chmod(0o644)
    before = attributes_of(dest)
    result = apply(dest, b"bad\n", mode=0o600, check_cmd="echo 'line 1: bad directive' >&2; exit 3",
                   reload_cmd=f"touch {marker}")
    assert isinstance(result.error, CheckFailed)
    assert (result.replaced, result.error.exit_code) == (False, 3)
    assert result.error.output == "line 1: bad directive\n"
    assert str(result.error) == (f"{dest}: check_cmd exited 3 (line 1: bad directive); "
                                 "the file was left as it was")
    assert (attributes_of(dest), marker.exists(), leftovers(tmp_path)) == (before, False, [])


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_hanging_check_times_out(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"old\n")
    result = apply(dest, b"new\n", check_cmd="sleep 30", timeout_s=0.3)
    assert isinstance(result.error, CheckFailed)
    assert result.error.timed_out
    assert "timed out after 0.3" in str(result.error)
    assert (dest.read_bytes(), leftovers(tmp_path)) == (b"old\n", [])


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_one_failed_check_does_not_stop_the_others(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    plans = [plan_file(make_spec(bad, check_cmd="exit 1"), b"b"),
             plan_file(make_spec(good, check_cmd="true"), b"g")]
    results = run(apply_batch(plans))
    assert [(r.dest, r.replaced, r.ok) for r in results] == [
        (str(bad), False, False), (str(good), True, True)]
    assert (bad.exists(), good.read_bytes(), leftovers(tmp_path)) == (False, b"g", [])


def test_a_large_batch_over_several_directories_replaces_each_file_once(tmp_path: Path) -> None:
    """Staged on threads, renamed, each directory fsynced once: every file whole, a failure stays local."""
    dests = [tmp_path / f"d{index % 3}" / f"f{index:02d}.conf" for index in range(30)]
    for dest in dests[:15]:
        dest.parent.mkdir(exist_ok=True)
        dest.write_bytes(b"old")
    missing = tmp_path / "absent" / "x.conf"
    plans = [plan_file(make_spec(dest, create_dest_dirs=True), f"new {dest.name}".encode())
             for dest in dests] + [plan_file(make_spec(missing), b"x")]
    results = run(apply_batch(plans))
    assert [r.replaced for r in results] == [True] * 30 + [False]
    assert all(r.ok for r in results[:30]) and isinstance(results[30].error, ApplyError)
    assert all(dest.read_bytes() == f"new {dest.name}".encode() for dest in dests)
    assert [leftovers(tmp_path / f"d{index}") for index in range(3)] == [[], [], []]
    assert not missing.parent.exists()


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_cancelled_batch_leaves_no_stage_file_and_no_process(tmp_path: Path) -> None:
    dest, pid_file = tmp_path / "app.conf", tmp_path / "pid"
    plan = plan_file(make_spec(dest, check_cmd=f"sleep 30 & echo $! > {pid_file}; wait"), b"new\n")

    async def cancel_during_check() -> None:
        task = asyncio.create_task(apply_batch([plan]))
        while not (pid_file.exists() and pid_file.read_text().strip()):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(asyncio.wait_for(cancel_during_check(), 10))
    assert (dest.exists(), leftovers(tmp_path)) == (False, [])
    until(lambda: process_gone(int(pid_file.read_text())), "the check to be killed", deadline_s=DEADLINE_S)


def test_missing_directory_is_an_error_unless_created(tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "dir" / "app.conf"
    result = apply(dest, b"x")
    assert isinstance(result.error, ApplyError)
    assert str(result.error) == (f"{dest}: directory {dest.parent} does not exist "
                                 "(set create_dest_dirs = true to create it)")
    assert not (tmp_path / "sub").exists()
    assert apply(dest, b"x", create_dest_dirs=True).ok
    assert dest.read_bytes() == b"x"


def test_backup_keeps_the_previous_file(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"v1\n")
    dest.chmod(0o600)
    apply(dest, b"v2\n", backup=True, mode=0o644)
    assert attributes_of(tmp_path / "app.conf.bak") == (b"v1\n", 0, 0, 0o600)
    apply(dest, b"v3\n", backup=True)
    assert (tmp_path / "app.conf.bak").read_bytes() == b"v2\n"
    assert leftovers(tmp_path) == []


def test_sync_only_runs_no_command(tmp_path: Path) -> None:
    dest, marker = tmp_path / "app.conf", tmp_path / "ran"
    plan = plan_file(make_spec(dest, check_cmd=f"touch {marker}", reload_cmd=f"touch {marker}"), b"x")
    (result,) = run(apply_batch([plan], sync_only=True))
    assert (result.ok, result.commands, dest.read_bytes(), marker.exists()) == (True, (), b"x", False)


def test_a_symlinked_dest_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "available" / "site.conf"
    real.parent.mkdir()
    real.write_bytes(b"old\n")
    link = tmp_path / "site.conf"
    link.symlink_to(real)
    assert apply(link, b"new\n").ok
    assert (link.is_symlink(), real.read_bytes(), leftovers(real.parent), leftovers(tmp_path)) == (
        True, b"new\n", [], [])


def test_a_directory_at_dest_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ApplyError, match="is a directory"):
        read_file_state(tmp_path)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory outside pytest's private temp tree, so another user can reach it."""
    directory = Path(tempfile.mkdtemp(prefix="confagent-apply-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def _apply_error_as_nobody(dest: Path, **fields: object) -> str:
    def attempt() -> str:
        result = run(apply_plan(plan_file(make_spec(dest, **fields), b"new\n")))
        return str(result.error)
    return run_as(NOBODY, NOBODY, attempt)


def test_read_only_directory_changes_nothing(shared_dir: Path) -> None:
    dest = shared_dir / "app.conf"
    dest.write_bytes(b"old\n")
    message = _apply_error_as_nobody(dest)
    assert message == f"{dest}: cannot write a new file in {shared_dir}: Permission denied"
    assert (dest.read_bytes(), leftovers(shared_dir)) == (b"old\n", [])


def test_giving_a_file_away_without_root_is_a_clear_error(shared_dir: Path) -> None:
    os.chown(shared_dir, NOBODY, NOBODY)
    dest = shared_dir / "app.conf"
    message = _apply_error_as_nobody(dest, uid=0)
    assert message == (f"{dest}: cannot give the file to uid 0 gid {NOBODY}: not permitted "
                       f"(the agent runs as uid {NOBODY}; only root may give files away)")
    assert (dest.exists(), leftovers(shared_dir)) == (False, [])


def test_plans_carry_what_a_rollback_needs(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"old\n")
    os.chown(dest, NOBODY, 7)
    dest.chmod(0o600)
    plan = plan_file(make_spec(dest, uid=0, mode=0o644), b"new\n")
    assert isinstance(plan, Replace)
    assert plan.previous is not None
    assert (plan.previous.content, plan.previous.attributes) == (b"old\n", FileAttributes(NOBODY, 7, 0o600))
    assert plan.target == FileAttributes(0, 7, 0o644)


def test_a_huge_dest_is_refused(tmp_path: Path) -> None:
    dest = tmp_path / "huge"
    with dest.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)  # sparse: instant
    with pytest.raises(ApplyError, match="is larger than"):
        plan_file(make_spec(dest), b"x")


def test_a_destination_is_read_with_a_buffer_of_its_size_not_of_the_bound(tmp_path: Path) -> None:
    """A read of the bound allocated 64 MiB for every destination planned (30 us each)."""
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"x" * 3000)
    tracemalloc.start()
    try:
        state = read_file_state(dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert state is not None and state.content == b"x" * 3000
    assert peak < 1 << 20, peak


def test_a_fifo_at_dest_is_refused_not_waited_on(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    os.mkfifo(dest)
    failures: list[BaseException] = []
    reader = threading.Thread(target=_plan_into, args=(dest, failures), daemon=True)
    reader.start()
    reader.join(DEADLINE_S)
    if reader.is_alive():  # blocked in open(): give it a writer so that the thread ends
        os.close(os.open(dest, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the plan waited for a writer of the FIFO")
    assert [str(failure) for failure in failures] == [f"{dest}: is not a regular file"]


def _plan_into(dest: Path, failures: list[BaseException]) -> None:
    try:
        plan_file(make_spec(dest), b"x")
    except ApplyError as error:
        failures.append(error)


@pytest.mark.usefixtures("subprocesses")  # check_cmd runs
def test_keep_stage_files_leaves_a_refused_stage_file_and_removes_a_renamed_one(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.conf", tmp_path / "good.conf"
    bad.write_bytes(b"old\n")
    plans = [plan_file(make_spec(bad, check_cmd="exit 1", mode=0o640), b"refused\n"),
             plan_file(make_spec(good, check_cmd="true"), b"good\n")]
    refused, renamed = run(apply_batch(plans, keep_stage_files=True))
    assert isinstance(refused.error, CheckFailed) and renamed.ok and renamed.kept_stage is None
    assert refused.kept_stage is not None and refused.kept_stage.parent == tmp_path
    assert leftovers(tmp_path) == [refused.kept_stage.name]
    assert refused.kept_stage.name.startswith(".bad.conf.")
    assert attributes_of(refused.kept_stage)[::3] == (b"refused\n", 0o640)
    assert (bad.read_bytes(), good.read_bytes()) == (b"old\n", b"good\n")


def test_keep_stage_files_without_a_failure_leaves_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    (result,) = run(apply_batch([plan_file(make_spec(dest), b"new\n")], keep_stage_files=True))
    assert (result.replaced, result.kept_stage, leftovers(tmp_path)) == (True, None, [])
