"""Carrying out plans: stage, check, rename, reload once per command, roll back a failed reload.

``apply_batch(plans)`` runs in phases, each over every plan still going:

1. stage: the new content, owner and mode in a stage file beside the
   destination (``confagent.fsutil.stage_file``); a missing directory is an
   error unless ``create_dest_dirs``. Several stage files are written on up
   to ``MAX_CONCURRENT_STAGES`` threads, so that their fsyncs overlap (the
   file system commits them together); the event loop waits for them all,
   as it waits for one;
2. check: every ``check_cmd`` on its stage file, up to ``MAX_CONCURRENT_CHECKS``
   at a time; a failure
   deletes that stage file and leaves its destination untouched;
3. install: ``dest.bak`` first if ``backup``, then the renames, then one fsync
   per directory (a destination whose directory fsync fails gets an error and no reload);
4. reload: each distinct ``reload_cmd`` (after filling ``{{.dest}}``) runs
   once for all the destinations that asked for it. When it fails, every
   destination of that group with ``rollback`` gets its previous file back
   (bytes, owner, mode; removed if there was none) and the command runs once more.
5. a resource with a ``reload_lock`` has its install and reload (phases 3-4,
   rollback included) run inside one slot of that lock (``ReloadSlots``,
   given by the caller: the store's semaphore), taken after its check passed
   and released once the reload, or the reload after a rollback, ended. One
   slot per lock name for the batch; locks are taken concurrently, after the
   resources without one are done. When no slot is had (``ReloadDeferred``,
   or no ``ReloadSlots`` given) the destination is left as it was and nothing
   runs: the caller tries again later. A ``reload_cmd`` runs once per lock
   it is taken under.

Guarantees: a destination is always a whole file (old or new); no stage file
survives the batch, whatever is raised, including cancellation (unless
``keep_stage_files``, below); a failure of one destination never stops
another's. Errors are results (``ApplyResult.error``), for the caller to log
with each command's output; only bugs raise. ``sync_only`` skips both
commands (confd's ``-sync-only``). ``keep_stage_files`` (confd's
``-keep-stage-file``) leaves a stage file that was not renamed where it is
(a failed check, a deferred reload) and names it in ``ApplyResult.kept_stage``;
a cancelled batch still removes its stage files.
"""

from __future__ import annotations

import asyncio
import errno
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from confagent.apply._commands import CommandResult, run_command
from confagent.apply._files import destination_path
from confagent.errors import ApplyError, CheckFailed, ReloadDeferred, ReloadFailed
from confagent.fsutil import (
    fsync_directory,
    remove_quietly,
    stage_file,
    write_file_atomically,
)
from confagent.resource import NoChange, Plan, Replace, fill_command

__all__ = ["MAX_CONCURRENT_CHECKS", "MAX_CONCURRENT_STAGES", "ApplyResult", "ReloadSlots", "apply_batch",
           "apply_plan"]

MAX_CONCURRENT_CHECKS = 8
"""How many ``check_cmd``s of one batch run at the same time."""
MAX_CONCURRENT_STAGES = 8
"""How many stage files of one batch are written and fsynced at the same time (threads)."""


class ReloadSlots(Protocol):
    """Where the slots of ``reload_lock``s are taken (rule 5; the agent's is the store's semaphore)."""

    def slot(self, lock: str, concurrency: int) -> AbstractAsyncContextManager[object]:
        """One of the ``concurrency`` slots of ``lock``, held inside ``async with``.

        Raises:
            ReloadDeferred: on entering, when no slot was had; the message says why.
        """
        ...


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What applying one plan did."""

    plan: Plan
    replaced: bool
    """The destination holds the new content now (False after a rollback)."""
    error: ApplyError | None = None
    rolled_back: bool = False
    commands: tuple[CommandResult, ...] = ()
    """Every command run for this destination, in order: check, reload, reload after rollback."""
    kept_stage: Path | None = None
    """``keep_stage_files``: the stage file left in place because it was not renamed."""

    @property
    def dest(self) -> str:
        return self.plan.spec.dest

    @property
    def ok(self) -> bool:
        return self.error is None


class _Job:
    """One Replace as it goes through the phases (mutable, private to a batch)."""

    __slots__ = ("commands", "error", "kept_stage", "plan", "replaced", "rolled_back", "stage", "target")

    def __init__(self, plan: Replace) -> None:
        self.plan = plan
        self.target = destination_path(plan.dest)
        self.stage: Path | None = None
        self.error: ApplyError | None = None
        self.replaced = False
        self.rolled_back = False
        self.commands: list[CommandResult] = []
        self.kept_stage: Path | None = None

    @property
    def going(self) -> bool:
        return self.error is None

    def result(self) -> ApplyResult:
        return ApplyResult(self.plan, self.replaced, self.error, self.rolled_back, tuple(self.commands),
                           self.kept_stage)

    def keep_stage(self) -> None:
        """Leave the stage file where it is (``keep_stage_files``), as ``kept_stage``."""
        assert self.stage is not None
        self.kept_stage, self.stage = self.stage, None


async def apply_plan(plan: Plan, *, sync_only: bool = False, reload_slots: ReloadSlots | None = None,
                     keep_stage_files: bool = False) -> ApplyResult:
    """``apply_batch`` of one plan."""
    (result,) = await apply_batch([plan], sync_only=sync_only, reload_slots=reload_slots,
                                  keep_stage_files=keep_stage_files)
    return result


async def apply_batch(plans: Sequence[Plan], *, sync_only: bool = False,
                      reload_slots: ReloadSlots | None = None,
                      keep_stage_files: bool = False) -> list[ApplyResult]:
    """Apply plans together (phases in the module doc); one result per plan, in order.

    Args:
        reload_slots: where resources with a ``reload_lock`` take their slot (rule 5); None:
            those are not applied (``ReloadDeferred``).
        keep_stage_files: leave the stage files that were not renamed (module doc).
    """
    jobs = {index: _Job(plan) for index, plan in enumerate(plans) if isinstance(plan, Replace)}
    await _apply_jobs(list(jobs.values()), sync_only, reload_slots, keep_stage_files)
    return [jobs[index].result() if index in jobs else _unchanged(plan) for index, plan in enumerate(plans)]


async def _apply_jobs(jobs: Sequence[_Job], sync_only: bool, reload_slots: ReloadSlots | None,
                      keep_stage_files: bool) -> None:
    """The phases over ``jobs``; their stage files removed at the end, or kept (module doc)."""
    finished = False
    try:
        _stage_all(jobs)
        if not sync_only:
            slots = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
            async with asyncio.TaskGroup() as checks:
                for job in jobs:
                    if job.going and job.plan.spec.check_cmd:
                        checks.create_task(_check(job, slots))
        locks: dict[str, list[_Job]] = {}
        free: list[_Job] = []
        for job in jobs:
            lock = None if sync_only else job.plan.spec.reload_lock
            if job.going:
                (free if lock is None else locks.setdefault(lock, [])).append(job)
        _install_all(free)
        if not sync_only:
            await _reload_all([job for job in free if job.replaced and job.going])
        async with asyncio.TaskGroup() as slotted:
            for lock, group in locks.items():
                slotted.create_task(_apply_in_slot(lock, group, reload_slots))
        finished = True
    finally:
        for job in jobs:
            if job.stage is None:
                continue
            if finished and keep_stage_files and job.error is not None:
                job.keep_stage()
            else:
                remove_quietly(job.stage)


def _unchanged(plan: Plan) -> ApplyResult:
    assert isinstance(plan, NoChange)
    return ApplyResult(plan, replaced=False)


def _stage_all(jobs: Sequence[_Job]) -> None:
    """Stage every job; several at once on threads (phase 1). Returns when all are done."""
    if len(jobs) <= 1:
        for job in jobs:
            _stage(job)
        return
    workers = min(len(jobs), MAX_CONCURRENT_STAGES)
    with ThreadPoolExecutor(workers, thread_name_prefix="confagent-stage") as pool:
        for _ in pool.map(_stage, jobs):  # _stage keeps its errors on the job; a bug raises here
            pass


def _stage(job: _Job) -> None:
    spec, target = job.plan.spec, job.target
    try:
        if not target.parent.is_dir():
            if not spec.create_dest_dirs:
                raise ApplyError(f"directory {target.parent} does not exist "
                                 "(set create_dest_dirs = true to create it)", dest=spec.dest)
            target.parent.mkdir(parents=True, exist_ok=True)
        attributes = job.plan.target
        job.stage = stage_file(target, job.plan.content, mode=attributes.mode, uid=attributes.uid,
                               gid=attributes.gid)
    except ApplyError as error:
        job.error = error
    except OSError as error:
        job.error = ApplyError(_stage_failure(error, job), dest=spec.dest)


def _stage_failure(error: OSError, job: _Job) -> str:
    attributes = job.plan.target
    if error.errno == errno.EPERM:
        return (f"cannot give the file to uid {attributes.uid} gid {attributes.gid}: not permitted "
                f"(the agent runs as uid {os.geteuid()}; only root may give files away)")
    return f"cannot write a new file in {job.target.parent}: {error.strerror}"


async def _check(job: _Job, slots: asyncio.Semaphore) -> None:
    spec = job.plan.spec
    assert spec.check_cmd is not None and job.stage is not None
    command = fill_command(spec.check_cmd, {"src": str(job.stage), "dest": spec.dest})
    async with slots:
        result = await run_command(command, spec.timeout_s)
    job.commands.append(result)
    if not result.ok:
        job.error = CheckFailed(
            _failure("check_cmd", result, "the file was left as it was"),
            dest=spec.dest, command=command, exit_code=result.exit_code, output=result.output,
            timed_out=result.timed_out)


def _install_all(jobs: Sequence[_Job]) -> None:
    """Rename every stage file over its destination, then fsync each directory once (phase 3)."""
    directories: dict[Path, list[_Job]] = {}
    for job in jobs:
        _install(job)
        if job.replaced:
            directories.setdefault(job.target.parent, []).append(job)
    for directory, group in directories.items():
        try:
            fsync_directory(directory)
        except OSError as error:
            for job in group:
                job.error = ApplyError(f"the file was replaced, but the fsync of {directory} failed "
                                       f"({error.strerror}): the replacement may not survive a crash",
                                       dest=job.plan.spec.dest)


def _install(job: _Job) -> None:
    """Back up the previous file if asked, and rename the stage file over the destination."""
    assert job.stage is not None
    spec, previous = job.plan.spec, job.plan.previous
    try:
        if spec.backup and previous is not None:
            backup = job.target.with_name(job.target.name + ".bak")
            attributes = previous.attributes
            write_file_atomically(backup, previous.content, mode=attributes.mode, uid=attributes.uid,
                                  gid=attributes.gid)
        os.replace(job.stage, job.target)
    except OSError as error:
        job.error = ApplyError(f"cannot replace the file: {error.strerror}", dest=spec.dest)
        return
    job.stage = None
    job.replaced = True


async def _apply_in_slot(lock: str, jobs: Sequence[_Job], reload_slots: ReloadSlots | None) -> None:
    """Install and reload ``jobs`` inside one slot of ``lock``; none of it without the slot (rule 5)."""
    concurrency = min(job.plan.spec.reload_concurrency for job in jobs)
    try:
        if reload_slots is None:
            raise ReloadDeferred(f"no store holds the slots of reload_lock {lock!r} with this backend "
                                 "(it needs the etcd backend, or the embedded store with a client URL)",
                                 dest=jobs[0].plan.dest)
        async with reload_slots.slot(lock, concurrency):
            _install_all(jobs)
            await _reload_all([job for job in jobs if job.replaced and job.going])
    except ReloadDeferred as deferred:
        for job in jobs:
            if job.going and not job.replaced:
                job.error = ReloadDeferred(f"{deferred.message}; the file was left as it was",
                                           dest=job.plan.dest)


async def _reload_all(jobs: Sequence[_Job]) -> None:
    groups: dict[str, list[_Job]] = {}
    for job in jobs:
        if job.plan.spec.reload_cmd:
            command = fill_command(job.plan.spec.reload_cmd, {"dest": job.plan.dest})
            groups.setdefault(command, []).append(job)
    for command, group in groups.items():
        await _reload_group(command, group)


async def _reload_group(command: str, group: Sequence[_Job]) -> None:
    timeout_s = max(job.plan.spec.timeout_s for job in group)
    result = await run_command(command, timeout_s)
    for job in group:
        job.commands.append(result)
    if result.ok:
        return
    notes = {id(job): _roll_back(job) if job.plan.spec.rollback else "kept the new file (rollback = false)"
             for job in group}
    again = None
    if any(job.rolled_back for job in group):
        again = await run_command(command, timeout_s)
    for job in group:
        note = notes[id(job)]
        if job.rolled_back and again is not None:
            job.commands.append(again)
            note += " and reloaded" if again.ok else f"; reloading it {again.describe()} too"
        job.error = ReloadFailed(
            _failure("reload_cmd", result, note), dest=job.plan.dest,
            command=command, exit_code=result.exit_code, output=result.output,
            timed_out=result.timed_out, rolled_back=job.rolled_back)


def _roll_back(job: _Job) -> str:
    """Put the previous file back; a note on what happened, for the error message."""
    previous = job.plan.previous
    try:
        if previous is None:
            job.target.unlink()
            fsync_directory(job.target.parent)
        else:
            attributes = previous.attributes
            write_file_atomically(job.target, previous.content, mode=attributes.mode,
                                  uid=attributes.uid, gid=attributes.gid)
    except OSError as error:
        return f"restoring the previous file failed ({error.strerror}): the new file stays"
    job.replaced = False
    job.rolled_back = True
    if previous is None:
        return "removed the new file (there was none before)"
    return "restored the previous file"


def _failure(key: str, result: CommandResult, consequence: str) -> str:
    """``check_cmd exited 1 (nginx: [emerg] ...); the file was left as it was``."""
    last_line = result.last_line()
    said = f" ({last_line})" if last_line else ""
    return f"{key} {result.describe()}{said}; {consequence}"
