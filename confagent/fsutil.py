"""Durable, atomic file replacement: the one way confagent writes a file another reader may open.

Rules:
1. A new version is written to a uniquely named stage file *in the target's
   directory* (a rename never crosses file systems), given its owner and mode
   (chown before chmod: chown clears set-id bits), made durable (fsynced, or
   rule 5), and only then renamed over the target; the directory is fsynced
   after the rename.
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
5. Many stage files of one directory are made durable together
   (``stage_file(sync=False)`` for each, then ``sync_stage_files``): the
   directory is opened before the first is written; once all are written,
   one ``syncfs(2)`` of its file system writes them out and waits for the
   writes (with whatever else is dirty on that file system), then an
   ``fsync`` of the directory flushes the disk's cache after they completed
   (ext4 without a journal writes its last inode blocks after syncfs's own
   flush), all before the first rename: as durable as an fsync each, three
   calls instead of one per file. syncfs reports a write error of any file of
   the file system since the directory was opened (Linux 5.8+; older kernels
   or no syncfs count as an error); on an error each file is fsynced on its
   own through a new descriptor, which still gets its own write error (an
   error no descriptor has seen is reported to one opened after it): the
   files that fail get their error, the others are durable.

The store's write-ahead log and snapshots use the same primitives.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import stat
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = [
    "STAGE_SUFFIX",
    "creation_owner",
    "fsync_directory",
    "open_directory",
    "read_at_most",
    "remove_quietly",
    "remove_stage_leftovers",
    "replace_file",
    "stage_file",
    "sync_file_system",
    "sync_stage_files",
    "syncfs_reports_errors",
    "write_file_atomically",
    "write_fully",
]

STAGE_SUFFIX = ".stage"
"""Stage files are ``.<target name>.<random>.stage`` beside the target."""
STAGE_NAME_ATTEMPTS = 16
"""How many random names a stage file tries before giving up (each clash is another writer's file)."""
READ_CHUNK_BYTES = 64 * 1024
"""What a bounded read asks for at a time once a file turns out longer than its ``fstat`` said."""
SYNCFS_REPORTS_ERRORS_SINCE = (5, 8)
"""The Linux release from which ``syncfs(2)`` returns the write errors of its file system (rule 5)."""
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def creation_owner(directory: Path) -> tuple[int, int]:
    """The uid and gid a file this process creates in ``directory`` gets: its effective ids, or the
    directory's group when the directory is set-group-ID. Raises OSError (the directory is missing)."""
    status = os.stat(directory)
    if not stat.S_ISDIR(status.st_mode):
        raise NotADirectoryError(20, "Not a directory", str(directory))
    return os.geteuid(), status.st_gid if status.st_mode & stat.S_ISGID else os.getegid()


def open_directory(path: Path) -> int:
    """A descriptor of the directory ``path``, to fsync or to ``sync_stage_files`` with. Raises OSError."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def fsync_directory(path: Path) -> None:
    """Make the directory's entries (creations, renames, deletions) durable."""
    fd = open_directory(path)
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
               gid: int | None = None, created_owner: tuple[int, int] | None = None,
               sync: bool = True) -> Path:
    """Write ``content`` durably to a new stage file beside ``target``, with owner and mode.

    Args:
        target: the file the stage file will replace (it need not exist).
        content: the bytes.
        mode: permission bits of the stage file.
        uid, gid: its owner and group; None leaves the one the OS gave (the writer's).
        created_owner: ``creation_owner(target.parent)``, when the caller knows it (rule 1).
        sync: False: no fsync; the caller makes the file durable with others (``sync_stage_files``,
            rule 5) before renaming it.

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
            if sync:
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


def sync_stage_files(directory_fd: int, stages: Sequence[Path]) -> list[OSError | None]:
    """Make ``stages`` durable together (rule 5): stage files written with ``stage_file(sync=False)``
    in the directory ``directory_fd`` was opened on, after it was opened.

    Returns:
        Each stage file's write error, in order; None for each one that is durable.
    """
    try:
        sync_file_system(directory_fd)
        os.fsync(directory_fd)
    except OSError:
        return [_fsync_error(stage) for stage in stages]
    return [None] * len(stages)


def syncfs_reports_errors() -> bool:
    """Whether ``sync_file_system`` can work here (Linux 5.8 or later, a C library with syncfs): where
    it cannot, ``sync_stage_files`` costs an fsync per file, one after the other (rule 5)."""
    return _syncfs() is not None


def sync_file_system(fd: int) -> None:
    """``syncfs(2)``: write every dirty file and inode of the file system ``fd`` is on, and wait.

    Raises:
        OSError: syncfs failed, or a file of that file system had a write error since ``fd`` was
            opened; ``ENOSYS`` where syncfs reports no write errors (not Linux, or before 5.8).
    """
    syncfs = _syncfs()
    if syncfs is None:
        raise OSError(errno.ENOSYS, "no syncfs that reports write errors (Linux 5.8 or later)")
    syncfs(fd)


@functools.cache
def _syncfs() -> Callable[[int], None] | None:
    """The C library's ``syncfs``, raising OSError, when the kernel reports write errors through it;
    else None. ctypes (2 ms to import) is loaded by the first call only, for a large batch."""
    release = tuple(int(part) for part in os.uname().release.split("-")[0].split(".")[:2] if part.isdigit())
    if sys.platform != "linux" or release < SYNCFS_REPORTS_ERRORS_SINCE:
        return None
    import ctypes  # noqa: PLC0415 - rule 5's large batches only

    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except AttributeError:
        return None
    function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int

    def syncfs(fd: int) -> None:
        if function(fd) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))

    return syncfs


def _fsync_error(stage: Path) -> OSError | None:
    """What an fsync of ``stage`` through a new descriptor reports (rule 5: its own write error), or None."""
    try:
        fd = os.open(stage, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        return error
    return None


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
