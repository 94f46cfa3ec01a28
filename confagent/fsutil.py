"""Durable, atomic file replacement: the one way confagent writes a file another reader may open.

Rules:
1. A new version is written to a uniquely named stage file *in the target's
   directory* (a rename never crosses file systems), given its owner and mode
   (chown before chmod: chown clears set-id bits), fsynced, and only then
   renamed over the target; the directory is fsynced after the rename.
   A reader sees the old file or the new one, never a mix, and after a crash
   the rename is either durable or not there. A stage file is created
   readable by its owner only, unless the caller knows the owner a new file
   in that directory gets (``creation_owner``) and it is the one asked for:
   then it is created with its mode at once (the umask and default ACLs can
   only narrow it, and a narrowed mode is set again), which saves the
   ``fchmod``; either way no one the finished file would not admit can open
   it while it is written.
2. A stage file never outlives a failure: every error or cancellation
   between creating and renaming it removes it.
3. Errors are the OS's own ``OSError``s; callers map them to their error
   (``StorageError``, ``ApplyError``) with the path and what was being done.
4. A bounded read (``read_at_most``) asks for the size the file has, not for
   its bound: ``read(n)`` allocates all of ``n`` first.

The store's write-ahead log and snapshots use the same primitives.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = [
    "STAGE_SUFFIX",
    "creation_owner",
    "fsync_directory",
    "read_at_most",
    "remove_quietly",
    "remove_stage_leftovers",
    "replace_file",
    "stage_file",
    "write_file_atomically",
    "write_fully",
]

STAGE_SUFFIX = ".stage"
"""Stage files are ``.<target name>.<random>.stage`` beside the target."""
STAGE_NAME_ATTEMPTS = 16
"""How many random names a stage file tries before giving up (each clash is another writer's file)."""
READ_CHUNK_BYTES = 64 * 1024
"""What a bounded read asks for at a time once a file turns out longer than its ``fstat`` said."""
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def creation_owner(directory: Path) -> tuple[int, int]:
    """The uid and gid a file this process creates in ``directory`` gets: its effective ids, or the
    directory's group when the directory is set-group-ID. Raises OSError (the directory is missing)."""
    status = os.stat(directory)
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(20, "Not a directory", str(directory))
    return os.geteuid(), status.st_gid if status.st_mode & stat.S_ISGID else os.getegid()


def fsync_directory(path: Path) -> None:
    """Make the directory's entries (creations, renames, deletions) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_at_most(fd: int, limit: int, size: int | None = None) -> bytes:
    """What ``read(limit)`` of ``fd`` gives (its bytes to the end, ``limit`` at most), without a buffer of
    ``limit`` bytes (rule 4: a 64 MiB bound cost 30 us per small file): the first read asks for the
    file's size plus one byte, and only a file longer than that (grown since its ``fstat``; a /proc
    file says 0) is read on, ``READ_CHUNK_BYTES`` at a time.

    Args:
        size: the file's size from the caller's ``fstat`` of ``fd``; None: fstat it here.
    """
    wanted = min((os.fstat(fd).st_size if size is None else size) + 1, limit)
    data = os.read(fd, wanted)
    if len(data) < wanted or wanted == limit:
        return data
    parts, got = [data], wanted
    while got < limit:
        part = os.read(fd, min(limit - got, READ_CHUNK_BYTES))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def write_fully(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a regular file may take less at once)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def stage_file(target: Path, content: bytes, *, mode: int, uid: int | None = None,
               gid: int | None = None, created_owner: tuple[int, int] | None = None) -> Path:
    """Write ``content`` durably to a new stage file beside ``target``, with owner and mode.

    Args:
        target: the file the stage file will replace (it need not exist).
        content: the bytes.
        mode: permission bits of the stage file.
        uid, gid: its owner and group; None leaves the one the OS gave (the writer's).
        created_owner: ``creation_owner(target.parent)``, when the caller knows it (rule 1).

    Returns:
        The stage file's path, to rename over ``target`` (``replace_file``) or remove.

    Raises:
        OSError: the directory is missing or read-only, the owner cannot be
            given (``EPERM`` unless root), the disk is full; nothing is left behind.
    """
    owned = created_owner is not None and (uid is None or uid == created_owner[0]) and (
        gid is None or gid == created_owner[1])
    fd, stage = _create_stage(target, mode if owned else 0o600)
    try:
        try:
            write_fully(fd, content)
            status = os.fstat(fd)
            if not owned:
                _set_owner(fd, status, uid, gid)
            if not owned or stat.S_IMODE(status.st_mode) != mode:
                os.fchmod(fd, mode)
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        remove_quietly(stage)
        raise
    return stage


def _create_stage(target: Path, mode: int) -> tuple[int, Path]:
    """A new stage file beside ``target`` (exclusive create, no symlink followed), open for writing."""
    for _ in range(STAGE_NAME_ATTEMPTS):
        stage = target.with_name(f".{target.name}.{os.urandom(6).hex()}{STAGE_SUFFIX}")
        try:
            return os.open(stage, _CREATE_FLAGS, mode), stage
        except FileExistsError:
            continue
    raise FileExistsError(17, f"no free stage file name after {STAGE_NAME_ATTEMPTS} attempts", str(target))


def replace_file(stage: Path, target: Path) -> None:
    """Rename ``stage`` over ``target`` and make the rename durable. Raises OSError."""
    os.replace(stage, target)
    fsync_directory(target.parent)


def write_file_atomically(target: Path, content: bytes, *, mode: int = 0o600, uid: int | None = None,
                          gid: int | None = None) -> None:
    """Replace ``target`` by ``content`` (rules 1 and 2).

    Raises:
        OSError: as ``stage_file``, or the rename failed; ``target`` is unchanged
            and no stage file remains (unless the directory fsync failed after the rename).
    """
    stage = stage_file(target, content, mode=mode, uid=uid, gid=gid)
    try:
        os.replace(stage, target)
    except BaseException:
        remove_quietly(stage)
        raise
    fsync_directory(target.parent)


def remove_stage_leftovers(directory: Path, pattern: str) -> None:
    """Remove the stage files a crash left beside targets named like ``pattern`` (a glob),
    and make their removal durable."""
    leftovers = list(directory.glob(f".{pattern}.*{STAGE_SUFFIX}"))
    for leftover in leftovers:
        leftover.unlink()
    if leftovers:
        fsync_directory(directory)


def remove_quietly(path: Path) -> None:
    """Remove ``path`` if it is there: cleanup must not hide the error being handled."""
    with contextlib.suppress(OSError):
        path.unlink()


def _set_owner(fd: int, status: os.stat_result, uid: int | None, gid: int | None) -> None:
    wanted = (status.st_uid if uid is None else uid, status.st_gid if gid is None else gid)
    if wanted != (status.st_uid, status.st_gid):
        os.fchown(fd, *wanted)
