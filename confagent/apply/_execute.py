"""Carrying out plans: stage, check, rename, reload once per command, roll back a failed reload.

``apply_batch(plans)`` runs in phases, each over every plan still going;
``ApplyBatch`` is the same batch fed one plan at a time while the caller
renders, its phases run by ``finish``:

1. stage: the new content, owner and mode in a stage file beside the
   destination (``confagent.fsutil.stage_file``); a missing directory is an
   error unless ``create_dest_dirs``. The stage files are written on up to
   ``MAX_CONCURRENT_STAGES`` threads once the batch has all its plans
   (``confagent.apply._staging``, whose rule 1 says why not while the caller
   renders), so that their fsyncs overlap each other, or, in a directory
   with ``SYNC_TOGETHER_MIN_FILES`` or more, written then made durable
   together by one syncfs (its rule 5); ``finish`` waits for them all (the
   event loop waits, as it waits for one) before anything below. A plan with
   no command at all (no ``check_cmd``, ``reload_cmd`` nor ``reload_lock``)
   and no ``backup`` is renamed over its destination as soon as its stage
   file is durable (phase 3 early): nothing
   is checked or reloaded for it, so waiting for the others gains it nothing
   (confd too replaces each resource's file in turn);
2. check: every ``check_cmd`` on its stage file, up to ``MAX_CONCURRENT_CHECKS``
   at a time; a failure
   deletes that stage file and leaves its destination untouched;
3. install: ``dest.bak`` first if ``backup``, then the renames, then one fsync
   per directory, after its last rename, the early ones' included (a destination
   whose directory fsync fails gets an error and no reload);
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
``keep_stage_files``, below); a batch given up before ``finish`` writes
nothing (no stage file, directory or rename); a failure of one destination
never stops another's. Errors are results
(``ApplyResult.error``), for the caller to log with each command's output;
only bugs raise. ``sync_only`` skips both
commands (confd's ``-sync-only``). ``keep_stage_files`` (confd's
``-keep-stage-file``) leaves a stage file that was not renamed where it is
(a failed check, a deferred reload) and names it in ``ApplyResult.kept_stage``;
a cancelled batch still removes its stage files.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

from confagent.apply._staging import Staged, Staging
from confagent.errors import ApplyError, CheckFailed, ReloadDeferred, ReloadFailed
from confagent.fsutil import fsync_directory, remove_quietly, write_file_atomically
from confagent.resource import NoChange, Plan, Replace, fill_command

if TYPE_CHECKING:
    from confagent.apply._commands import CommandResult

__all__ = ["MAX_CONCURRENT_CHECKS", "ApplyBatch", "ApplyResult", "ReloadSlots", "apply_batch", "apply_plan"]

MAX_CONCURRENT_CHECKS = 8
"""How many ``check_cmd``s of one batch run at the same time."""


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

    __slots__ = ("commands", "error", "kept_stage", "plan", "replaced", "rolled_back", "stage", "staged",
                 "target")

    def __init__(self, staged: Staged) -> None:
        self.plan = staged.plan
        self.target = staged.target
        self.staged = staged
        """Phase 1's record, taken into ``stage`` and ``error`` once written (``taken``)."""
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

    def take_stage(self) -> None:
        """Take the written stage file, or the error, from phase 1 (after ``Staging.wait``); a stage
        file renamed early is a replaced destination."""
        self.stage, self.error = self.staged.stage, self.staged.error
        self.replaced = self.staged.installed

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
    async with ApplyBatch(sync_only=sync_only, reload_slots=reload_slots,
                          keep_stage_files=keep_stage_files) as batch:
        for plan in plans:
            batch.add(plan)
        return await batch.finish()


class ApplyBatch:
    """``apply_batch`` fed one plan at a time while the caller renders the next resources; ``finish``
    writes the stage files (phase 1) and runs the phases after it. Used as ``async with
    ApplyBatch(...) as batch``: leaving the block without ``finish`` (an error, a cancellation) writes
    nothing.

    Args: as ``apply_batch``'s.
    """

    def __init__(self, *, sync_only: bool = False, reload_slots: ReloadSlots | None = None,
                 keep_stage_files: bool = False) -> None:
        self._options = (sync_only, reload_slots, keep_stage_files)
        self._plans: list[Plan] = []
        self._jobs: dict[int, _Job] = {}
        self._staging = Staging()
        self._finished = False

    def add(self, plan: Plan) -> None:
        """Take ``plan`` into the batch (a ``Replace``'s stage file is written by ``finish``)."""
        assert not self._finished, "a finished batch takes no plan"
        if isinstance(plan, Replace):
            spec = plan.spec
            early = not (spec.check_cmd or spec.reload_cmd or spec.reload_lock or spec.backup)
            self._jobs[len(self._plans)] = _Job(self._staging.add(plan, self._staging.target(plan.dest),
                                                                  install=early))
        self._plans.append(plan)

    async def finish(self) -> list[ApplyResult]:
        """The phases after staging (module doc); one result per plan added, in order."""
        assert not self._finished, "a batch finishes once"
        self._staging.wait()
        jobs = list(self._jobs.values())
        for job in jobs:
            job.take_stage()
        self._finished = True  # the stage files are the jobs' now: _apply_jobs removes or keeps them
        await _apply_jobs(jobs, *self._options)
        return [self._jobs[index].result() if index in self._jobs else _unchanged(plan)
                for index, plan in enumerate(self._plans)]

    async def __aenter__(self) -> ApplyBatch:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        traceback: TracebackType | None) -> None:
        if self._finished:
            return
        self._finished = True
        self._staging.drop()
        for job in self._jobs.values():  # written only if finish failed within phase 1 (a bug)
            if job.staged.stage is not None:
                remove_quietly(job.staged.stage)


async def _apply_jobs(jobs: Sequence[_Job], sync_only: bool, reload_slots: ReloadSlots | None,
                      keep_stage_files: bool) -> None:
    """The phases after staging over ``jobs``; their stage files removed at the end, or kept (module doc)."""
    finished = False
    try:
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


async def _check(job: _Job, slots: asyncio.Semaphore) -> None:
    spec = job.plan.spec
    assert spec.check_cmd is not None and job.stage is not None
    command = fill_command(spec.check_cmd, {"src": str(job.stage), "dest": spec.dest})
    from confagent.apply._commands import run_command  # noqa: PLC0415 - loaded by the first command (package doc)

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
        if not job.replaced:  # else renamed early (phase 1)
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
    from confagent.apply._commands import run_command  # noqa: PLC0415 - loaded by the first command (package doc)

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
