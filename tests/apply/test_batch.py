"""ApplyBatch: nothing written while plans are added; ``finish`` stages them all, renames a destination
without a command as soon as its stage file is durable and one with a command after the checks; a batch
given up writes nothing; a stage file created with its owner's mode at once comes out right; a directory
with many stage files has them synced together, each with its own outcome."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from confagent.apply import ApplyBatch, plan_file
from confagent.apply._staging import SYNC_TOGETHER_MIN_FILES
from confagent.fsutil import STAGE_SUFFIX, creation_owner, stage_file
from tests.apply.support import NOBODY, attributes_of, leftovers, make_spec, run


def stage_files(directory: Path) -> list[Path]:
    return sorted(path for path in directory.iterdir() if path.name.endswith(STAGE_SUFFIX))


def stage_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("confagent-stage")]


def test_nothing_is_written_while_plans_are_added_and_finish_replaces_them_all(tmp_path: Path) -> None:
    """While the caller renders, no stage thread runs (they would wait for the GIL its renders hold,
    and its renders for them) and no stage file exists; ``finish`` writes and renames them all."""
    dests = [tmp_path / f"f{index}.conf" for index in range(4)]
    for dest in dests:
        dest.write_bytes(b"old")

    async def batch() -> list[bool]:
        async with ApplyBatch(sync_only=True) as applying:  # the reload_cmd is not run
            for dest in dests:
                applying.add(plan_file(make_spec(dest, reload_cmd="true"), f"new {dest.name}".encode()))
                applying.add(plan_file(make_spec(dest.with_suffix(".other")), b"no command"))
            assert (stage_threads(), stage_files(tmp_path)) == ([], [])
            assert [dest.read_bytes() for dest in dests] == [b"old"] * 4
            return [result.replaced for result in await applying.finish()]

    assert run(batch()) == [True] * 8
    assert [dest.read_bytes() for dest in dests] == [f"new {dest.name}".encode() for dest in dests]
    assert leftovers(tmp_path) == [] and stage_threads() == []


@pytest.mark.usefixtures("subprocesses")  # a check_cmd runs
@pytest.mark.parametrize("command", [{}, {"check_cmd": "true"}, {"reload_cmd": "true"},
                                     {"reload_cmd": "true", "reload_lock": "l"}, {"backup": True}],
                         ids=["none", "check", "reload", "lock", "backup"])
def test_only_a_destination_without_command_or_backup_is_renamed_before_the_checks(
        tmp_path: Path, command: dict[str, object]) -> None:
    """Nothing is checked or reloaded for it, so it is renamed once its stage file is durable, before
    any check runs (a third destination's check_cmd sees it); every other waits for the checks (its
    own, its slot, its backup first). Their directory's fsync comes after the last rename."""
    early, late, probe, seen = (tmp_path / name for name in ("early.conf", "late.conf", "probe.conf", "seen"))
    for dest in (early, late):
        dest.write_bytes(b"old ")

    async def batch() -> list[bool]:
        async with ApplyBatch() as applying:  # no ReloadSlots: the lock's destination is deferred
            applying.add(plan_file(make_spec(early), b"new early "))
            applying.add(plan_file(make_spec(late, **command), b"new late "))
            applying.add(plan_file(make_spec(probe, check_cmd=f"cat {early} {late} > {seen}"), b"probe"))
            return [result.replaced for result in await applying.finish()]

    assert run(batch()) == [True, "reload_lock" not in command, True]
    assert seen.read_bytes() == (b"new early new late " if not command else b"new early old ")
    assert early.read_bytes() == b"new early "
    assert late.read_bytes() == (b"old " if "reload_lock" in command else b"new late ")
    assert (tmp_path / "late.conf.bak").exists() == ("backup" in command)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("keep", [False, True])
def test_an_early_rename_that_fails_is_the_destination_s_error_and_its_stage_file_goes_or_is_kept(
        tmp_path: Path, keep: bool) -> None:
    dest = tmp_path / "app.conf"
    planned = plan_file(make_spec(dest), b"new")
    (dest / "in-the-way").mkdir(parents=True)  # a directory took the place after the plan was made

    async def batch() -> list[tuple[bool, str, Path | None]]:
        async with ApplyBatch(keep_stage_files=keep) as applying:
            applying.add(planned)
            results = await applying.finish()
            return [(result.replaced, str(result.error), result.kept_stage) for result in results]

    ((replaced, error, kept),) = run(batch())
    assert not replaced and "cannot replace the file" in error
    assert stage_files(tmp_path) == ([kept] if keep else []) and (kept is not None) == keep


def test_a_batch_given_up_before_finish_writes_nothing(tmp_path: Path) -> None:
    """No stage file, no directory made, no destination renamed: not even one without a command."""
    dests = [tmp_path / "a" / f"f{index}.conf" for index in range(20)] + [tmp_path / "b.conf"]
    commandless = tmp_path / "c.conf"
    for dest in (dests[-1], commandless):
        dest.write_bytes(b"old")

    async def give_up() -> None:
        async with ApplyBatch() as applying:
            for dest in dests:
                applying.add(plan_file(make_spec(dest, create_dest_dirs=True, reload_cmd="true"), b"new"))
            applying.add(plan_file(make_spec(commandless), b"new"))
            raise RuntimeError("a render raised")

    with pytest.raises(RuntimeError, match="a render raised"):
        run(give_up())
    assert (leftovers(tmp_path), dests[-1].read_bytes(), commandless.read_bytes()) == ([], b"old", b"old")
    assert not (tmp_path / "a").exists() and stage_threads() == []


def test_the_plans_results_come_in_order_with_unchanged_ones_between(tmp_path: Path) -> None:
    same, new = tmp_path / "same.conf", tmp_path / "new.conf"
    same.write_bytes(b"same")
    same.chmod(0o644)

    async def batch() -> list[tuple[str, bool]]:
        async with ApplyBatch() as applying:
            applying.add(plan_file(make_spec(new), b"1"))
            applying.add(plan_file(make_spec(same), b"same"))
            applying.add(plan_file(make_spec(tmp_path / "absent" / "x.conf"), b"x"))
            return [(result.dest, result.ok) for result in await applying.finish()]

    assert run(batch()) == [(str(new), True), (str(same), True), (str(tmp_path / "absent" / "x.conf"), False)]


@pytest.fixture
def umask_077() -> Iterator[None]:
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.usefixtures("umask_077")
def test_a_mode_the_umask_narrowed_at_creation_is_set_again(tmp_path: Path) -> None:
    dest = tmp_path / "app.conf"
    stage = stage_file(dest, b"x", mode=0o644, uid=os.geteuid(), gid=os.getegid(),
                       created_owner=creation_owner(tmp_path))
    assert attributes_of(stage)[1:] == (os.geteuid(), os.getegid(), 0o644)


def test_a_set_group_id_directory_gives_its_group_and_the_plan_still_wins(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chown(shared, -1, NOBODY)
    shared.chmod(0o2755)
    assert creation_owner(shared) == (os.geteuid(), NOBODY)
    assert creation_owner(tmp_path) == (os.geteuid(), os.getegid())
    mine, theirs = shared / "mine.conf", shared / "theirs.conf"

    async def batch() -> None:
        async with ApplyBatch() as applying:
            applying.add(plan_file(make_spec(mine, mode=0o640), b"m"))  # a new file: the agent's group
            applying.add(plan_file(make_spec(theirs, gid=NOBODY, mode=0o2750), b"t"))
            assert all(result.ok for result in await applying.finish())

    run(batch())
    assert attributes_of(mine) == (b"m", os.geteuid(), os.getegid(), 0o640)
    assert attributes_of(theirs) == (b"t", os.geteuid(), NOBODY, 0o2750)
    assert stat.S_ISREG(theirs.lstat().st_mode) and leftovers(shared) == []


def test_a_symlinked_dest_in_a_resolved_directory_is_replaced_where_it_points(tmp_path: Path) -> None:
    real, links = tmp_path / "real", tmp_path / "links"
    real.mkdir()
    links.symlink_to(real)
    (real / "target.conf").write_bytes(b"old")
    (real / "pointer.conf").symlink_to(real / "target.conf")
    dests = [links / "plain.conf", links / "pointer.conf"]

    async def batch() -> None:
        async with ApplyBatch() as applying:
            for dest in dests:
                applying.add(plan_file(make_spec(dest), b"new"))
            assert all(result.ok for result in await applying.finish())

    run(batch())
    assert ((real / "plain.conf").read_bytes(), (real / "target.conf").read_bytes()) == (b"new", b"new")
    assert (real / "pointer.conf").is_symlink() and leftovers(real) == []


@pytest.mark.usefixtures("subprocesses")  # check_cmds run
def test_a_directory_of_many_stage_files_synced_together_gives_each_its_own_outcome(tmp_path: Path) -> None:
    """``SYNC_TOGETHER_MIN_FILES`` destinations in one directory (staging rule 5), beside a directory of
    two: the ones without a command renamed, a passing check's renamed, a failing check's and one
    whose early rename fails left as they were; no stage file remains."""
    many, few = tmp_path / "many", tmp_path / "few"
    few.mkdir()
    dests = [many / f"f{index:03d}.conf" for index in range(SYNC_TOGETHER_MIN_FILES)] + [few / "a", few / "b"]
    checked, refused, blocked = dests[:3]
    plans = [plan_file(make_spec(dest, create_dest_dirs=True), f"new {dest.name}".encode()) for dest in dests]
    plans[0] = plan_file(make_spec(checked, create_dest_dirs=True, check_cmd="test -s {{.src}}"), b"checked")
    plans[1] = plan_file(make_spec(refused, create_dest_dirs=True, check_cmd="false"), b"refused")
    (blocked / "in-the-way").mkdir(parents=True)  # a directory took the place after the plan was made

    async def batch() -> list[tuple[bool, bool]]:
        async with ApplyBatch() as applying:
            for plan in plans:
                applying.add(plan)
            return [(result.replaced, result.ok) for result in await applying.finish()]

    assert run(batch()) == [(True, True), (False, False), (False, False)] + [(True, True)] * (len(dests) - 3)
    assert (checked.read_bytes(), refused.exists(), blocked.is_dir()) == (b"checked", False, True)
    assert all(dest.read_bytes() == f"new {dest.name}".encode() for dest in dests[3:])
    assert (leftovers(many), leftovers(few), stage_threads()) == ([], [], [])
