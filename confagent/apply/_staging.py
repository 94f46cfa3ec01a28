"""Phase 1 of a batch: every stage file written and made durable once the batch has all its plans.

``Staging.add(plan, target)`` records one plan's stage file to write and returns its ``Staged`` record;
``wait()`` writes them all and returns when each is written, durable and given its owner and mode
(``confagent.fsutil.stage_file``), or has its error. The fsyncs of a batch are most of its time and wait
on the disk, not on this process: a directory with fewer than ``SYNC_TOGETHER_MIN_FILES`` of them has
its files written and fsynced on up to ``MAX_CONCURRENT_STAGES`` threads, which overlap the fsyncs; a
directory with more has them all written, then made durable together (rule 5).

Rules:
1. Nothing is written before ``wait()``, while the caller renders the batch's next resources: a thread
   returning from each of its system calls (7 per file) needs the GIL the renders hold, which CPython
   hands over at most every ``sys.getswitchinterval()`` (5 ms) unless the holder blocks, and the
   renders then wait for it in turn at each of theirs (session 9 saw 0.4-0.9 ms per plan). In the
   large one-shot (1,000 new files) the pass took 499 / 524 ms with the threads writing during its
   renders, 369 / 400 after them, and its main thread 301 / 312 ms of CPU against 208 / 212. A
   batch of one is written on the caller's thread (no thread for the agent's usual single change).
2. What is the same for every file of a directory is learnt once per batch: whether the directory
   exists (made when ``create_dest_dirs``; else the plan's error), the owner a file created there gets
   (``creation_owner``: a stage file that gets its owner at creation needs no chown nor chmod), and
   where the path of a destination that is not a symlink leads (``destination_path`` of its directory).
3. A plan added with ``install`` (one with no command to run on it: ``ApplyBatch``'s rule) has its
   stage file renamed over its destination as soon as it is durable (rule 5), before ``wait()``
   returns; nothing else is renamed here: the caller renames the rest after ``wait()``, once every
   check has passed. Either way a stage file is whole and durable before its destination changes
   (``confagent.fsutil`` rule 1); the directory is fsynced by the caller, after its last rename.
4. ``drop()`` forgets what was added and not written: a batch given up before ``wait()`` writes nothing,
   makes no directory and renames nothing.
5. The stage files of a directory with ``SYNC_TOGETHER_MIN_FILES`` or more are written without fsync,
   then made durable by one syncfs of their file system and an fsync of the directory
   (``fsutil.sync_stage_files``, its rule 5), before any of them is renamed: ~3 calls that wait on the
   disk instead of one fsync each (1,000 new files in one directory: 1,001 fsyncs before). A syncfs
   also writes what other programs left dirty on that file system, which a small batch should not
   wait for: hence the threshold. A file whose fsync fails after a failed syncfs gets its error.
   Where syncfs reports no write errors (before Linux 5.8) every directory's files are fsynced each.
"""

from __future__ import annotations

import errno
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from confagent.apply._files import destination_path
from confagent.errors import ApplyError
from confagent.fsutil import (
    creation_owner,
    open_directory,
    remove_quietly,
    stage_file,
    sync_stage_files,
    syncfs_reports_errors,
)
from confagent.resource import Replace

__all__ = ["MAX_CONCURRENT_STAGES", "SYNC_TOGETHER_MIN_FILES", "Staged", "Staging"]

MAX_CONCURRENT_STAGES = 8
"""How many stage files of one batch are written and fsynced at the same time (threads)."""
SYNC_TOGETHER_MIN_FILES = 64
"""From how many stage files a directory's are made durable together, by one syncfs (rule 5)."""


class Staged:
    """One plan's stage file: ``stage`` once written, or ``error``; ``installed`` once renamed over its
    destination (rule 3: its ``stage`` is None then); read them after ``Staging.wait``."""

    __slots__ = ("error", "install", "installed", "owner", "plan", "stage", "target")

    def __init__(self, plan: Replace, target: Path, owner: tuple[int, int] | None, install: bool) -> None:
        self.plan = plan
        self.target = target
        self.owner = owner
        self.install = install
        self.installed = False
        self.stage: Path | None = None
        self.error: ApplyError | None = None


class Staging:
    """The stage files of one batch, written on threads once it has all its plans (module doc)."""

    def __init__(self) -> None:
        self._added: list[Staged] = []
        self._owners: dict[Path, tuple[int, int]] = {}
        self._real_directories: dict[str, str] = {}

    def target(self, dest: str) -> Path:
        """``destination_path(dest)``, with its directory resolved once per batch (rule 2)."""
        directory, name = os.path.split(dest)
        if name in ("", ".", ".."):
            return destination_path(dest)
        try:
            if stat.S_ISLNK(os.lstat(dest).st_mode):
                return destination_path(dest)
        except OSError:
            pass  # absent or unreadable: realpath takes it as a plain name too
        real = self._real_directories.get(directory)
        if real is None:
            real = self._real_directories[directory] = os.path.realpath(directory)
        return Path(real, name)

    def add(self, plan: Replace, target: Path, *, install: bool = False) -> Staged:
        """Record ``plan``'s stage file, to write beside ``target`` at ``wait()`` (and with ``install``
        to rename over ``target``: rule 3); its record, filled by ``wait()``."""
        staged = Staged(plan, target, None, install)
        self._added.append(staged)
        return staged

    def wait(self) -> None:
        """Write every stage file added (rule 1); return when each is durable or has its error."""
        added, self._added = self._added, []
        directories: dict[Path, list[Staged]] = {}
        for staged in added:
            if self._owned(staged):
                directories.setdefault(staged.target.parent, []).append(staged)
        each: list[Staged] = []
        for directory, group in directories.items():
            if len(group) < SYNC_TOGETHER_MIN_FILES or not syncfs_reports_errors() or \
                    not _stage_together(directory, group):
                each += group
        _stage_each(each)

    def drop(self) -> None:
        """Forget every stage file added and not written (rule 4)."""
        self._added = []

    def _owned(self, staged: Staged) -> bool:
        """Learn the owner ``staged``'s file gets at creation; False (its error recorded) when its
        directory is missing or unusable."""
        try:
            staged.owner = self._owner_in(staged.target.parent, staged.plan)
        except ApplyError as error:
            staged.error = error
        except OSError as error:
            staged.error = ApplyError(_failure(error, staged), dest=staged.plan.dest)
        return staged.error is None

    def _owner_in(self, directory: Path, plan: Replace) -> tuple[int, int]:
        """The owner a file created in ``directory`` gets, the directory made if asked (rule 2)."""
        owner = self._owners.get(directory)
        if owner is not None:
            return owner
        try:
            owner = creation_owner(directory)
        except FileNotFoundError:
            if not plan.spec.create_dest_dirs:
                raise ApplyError(f"directory {directory} does not exist "
                                 "(set create_dest_dirs = true to create it)", dest=plan.dest) from None
            directory.mkdir(parents=True, exist_ok=True)
            owner = creation_owner(directory)
        self._owners[directory] = owner
        return owner


def _stage_each(writing: list[Staged]) -> None:
    """Write and fsync each stage file, on threads when there are several; rename the early ones."""
    if len(writing) <= 1:
        for staged in writing:
            _stage(staged)
        return
    with ThreadPoolExecutor(min(MAX_CONCURRENT_STAGES, len(writing)),
                            thread_name_prefix="confagent-stage") as pool:
        for _ in pool.map(_stage, writing):
            pass  # _stage keeps its errors on the record: only a bug raises here


def _stage_together(directory: Path, group: list[Staged]) -> bool:
    """Write ``group``'s stage files, make them durable together, then rename the early ones (rule 5);
    False, nothing written, when ``directory`` cannot be opened (the caller fsyncs each then)."""
    try:
        directory_fd = open_directory(directory)  # before any write: syncfs reports errors since
    except OSError:
        return False
    try:
        for staged in group:
            _write(staged, sync=False)
        written = [(staged, staged.stage) for staged in group if staged.stage is not None]
        errors = sync_stage_files(directory_fd, [stage for _, stage in written])
    finally:
        os.close(directory_fd)
    for (staged, stage), error in zip(written, errors, strict=True):
        if error is not None:
            remove_quietly(stage)
            staged.stage, staged.error = None, ApplyError(_failure(error, staged), dest=staged.plan.dest)
        elif staged.install:
            _install_early(staged)
    return True


def _stage(staged: Staged) -> None:
    _write(staged, sync=True)
    if staged.install and staged.stage is not None:
        _install_early(staged)


def _write(staged: Staged, *, sync: bool) -> None:
    """Write ``staged``'s stage file (fsynced if ``sync``), or record its error."""
    attributes = staged.plan.target
    try:
        staged.stage = stage_file(staged.target, staged.plan.content, mode=attributes.mode,
                                  uid=attributes.uid, gid=attributes.gid, created_owner=staged.owner,
                                  sync=sync)
    except OSError as error:
        staged.error = ApplyError(_failure(error, staged), dest=staged.plan.dest)


def _install_early(staged: Staged) -> None:
    """Rename a durable stage file over its destination (rule 3)."""
    assert staged.stage is not None
    try:
        os.replace(staged.stage, staged.target)
    except OSError as error:  # the stage file stays the batch's, to remove or keep as any other
        staged.error = ApplyError(f"cannot replace the file: {error.strerror}", dest=staged.plan.dest)
        return
    staged.stage, staged.installed = None, True


def _failure(error: OSError, staged: Staged) -> str:
    attributes = staged.plan.target
    if error.errno == errno.EPERM:
        return (f"cannot give the file to uid {attributes.uid} gid {attributes.gid}: not permitted "
                f"(the agent runs as uid {os.geteuid()}; only root may give files away)")
    return f"cannot write a new file in {staged.target.parent}: {error.strerror}"
