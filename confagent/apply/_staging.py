"""Phase 1 of a batch, started as plans arrive: stage files written and fsynced on threads meanwhile.

``Staging.start(plan, target)`` begins writing one plan's stage file and returns at once with its
``Staged`` record; ``wait()`` returns when every one started is written, fsynced and given its owner and
mode (``confagent.fsutil.stage_file``), or has its error. A batch's caller renders its next resources
while the file system works: the fsyncs of a batch are most of its time, and they wait on the disk,
not on this process.

Rules:
1. Up to ``MAX_CONCURRENT_STAGES`` stage files are written at once, on threads; a batch of one is
   written on the caller's thread at ``wait()`` (no thread for the agent's usual single change).
2. What is the same for every file of a directory is learnt once per batch: whether the directory
   exists (made when ``create_dest_dirs``; else the plan's error), the owner a file created there gets
   (``creation_owner``: a stage file that gets its owner at creation needs no chown nor chmod), and
   where the path of a destination that is not a symlink leads (``destination_path`` of its directory).
3. A plan started with ``install`` (one with no command to run on it: ``ApplyBatch``'s rule) has its
   stage file renamed over its destination in its thread as soon as it is durable, before
   ``wait()``; nothing else is renamed here: the caller renames the rest after ``wait()``, once
   every check has passed. Either way a stage file is whole and durable before its destination
   changes (``confagent.fsutil`` rule 1); the directory is fsynced by the caller, after its last rename.
4. ``wait()`` is also the cleanup's first step: a stage file being written when the batch is given up
   is removed only after its thread is done with it.
"""

from __future__ import annotations

import errno
import os
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from pathlib import Path

from confagent.apply._files import destination_path
from confagent.errors import ApplyError
from confagent.fsutil import creation_owner, stage_file
from confagent.resource import Replace

__all__ = ["MAX_CONCURRENT_STAGES", "Staged", "Staging"]

MAX_CONCURRENT_STAGES = 8
"""How many stage files of one batch are written and fsynced at the same time (threads)."""


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
    """The stage files of one batch, written on threads as their plans arrive (module doc)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._running: list[Future[None]] = []
        self._held: Staged | None = None
        """The first plan, written on the caller's thread at ``wait()`` unless a second comes (rule 1)."""
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

    def start(self, plan: Replace, target: Path, *, install: bool = False) -> Staged:
        """Begin writing ``plan``'s stage file beside ``target`` (and with ``install`` renaming it over
        ``target``: rule 3); its record, filled by ``wait()``."""
        staged = Staged(plan, target, None, install)
        try:
            staged.owner = self._owner_in(target.parent, plan)
        except ApplyError as error:
            staged.error = error
            return staged
        except OSError as error:
            staged.error = ApplyError(_failure(error, staged), dest=plan.dest)
            return staged
        if self._pool is None and self._held is None:
            self._held = staged
            return staged
        if self._pool is None:
            self._pool = ThreadPoolExecutor(MAX_CONCURRENT_STAGES, thread_name_prefix="confagent-stage")
        if self._held is not None:
            self._running.append(self._pool.submit(_stage, self._held))
            self._held = None
        self._running.append(self._pool.submit(_stage, staged))
        return staged

    def wait(self) -> None:
        """Return when every stage file started is written or has its error; stop the threads."""
        if self._held is not None:
            held, self._held = self._held, None
            _stage(held)
        if self._pool is None:
            return
        wait_for(self._running)
        self._pool.shutdown()
        self._pool = None
        for future in self._running:
            future.result()  # _stage keeps its errors on the record: only a bug raises here
        self._running = []

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


def _stage(staged: Staged) -> None:
    attributes = staged.plan.target
    try:
        staged.stage = stage_file(staged.target, staged.plan.content, mode=attributes.mode,
                                  uid=attributes.uid, gid=attributes.gid, created_owner=staged.owner)
    except OSError as error:
        staged.error = ApplyError(_failure(error, staged), dest=staged.plan.dest)
        return
    if staged.install:
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
