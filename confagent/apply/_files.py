"""Reading a destination and planning its update: the I/O half of ``confagent.resource.plan``.

Rules:
1. A destination is read through symlinks, and replaced at the path a
   symlink points to (``destination_path``): a link an operator made stays a link.
2. ``owner``/``group`` names are resolved at every plan, so a user created
   after the agent started is found; a number in ``owner`` is a uid.
3. Every failure is an ``ApplyError`` naming the destination; one larger
   than ``MAX_FILE_BYTES`` is refused (a rollback keeps it in memory).
4. A destination is read with a buffer of its size, not of the bound
   (``fsutil.read_at_most``), and opened without blocking: a FIFO in its
   place is refused, not waited on.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from pathlib import Path

from confagent.errors import ApplyError
from confagent.fsutil import read_at_most
from confagent.resource import FileAttributes, FileState, Plan, ResourceSpec, plan, target_attributes

__all__ = ["MAX_FILE_BYTES", "destination_path", "owner_ids", "plan_file", "read_file_state"]

MAX_FILE_BYTES = 64 * 1024 * 1024
"""The largest destination the agent reads (and would replace): configuration files are small."""


def plan_file(spec: ResourceSpec, rendered: bytes) -> Plan:
    """Compare a render with ``spec.dest`` as it is now: ``NoChange`` or ``Replace``.

    Raises:
        ApplyError: the destination cannot be read, or ``owner``/``group`` names no one.
    """
    current = read_file_state(Path(spec.dest))
    target = target_attributes(owner_ids(spec), spec.mode, current, (os.geteuid(), os.getegid()))
    return plan(spec, rendered, current, target)


def destination_path(dest: str) -> Path:
    """Where a destination's new version is written: the file a symlink at ``dest`` points to."""
    return Path(os.path.realpath(dest))


def read_file_state(path: Path) -> FileState | None:
    """The bytes and attributes at ``path`` (through symlinks); None when nothing is there.

    Raises:
        ApplyError: ``path`` is not a regular file, is larger than ``MAX_FILE_BYTES``, or cannot be read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ApplyError(f"cannot read the current file: {error.strerror}", dest=str(path)) from error
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):
            raise ApplyError("is a directory, not a file", dest=str(path))
        if not stat.S_ISREG(status.st_mode):
            raise ApplyError("is not a regular file", dest=str(path))
        content = b"" if status.st_size > MAX_FILE_BYTES else read_at_most(fd, MAX_FILE_BYTES + 1,
                                                                              status.st_size)
    except OSError as error:
        raise ApplyError(f"cannot read the current file: {error.strerror}", dest=str(path)) from error
    finally:
        os.close(fd)
    if max(status.st_size, len(content)) > MAX_FILE_BYTES:
        raise ApplyError(f"is larger than {MAX_FILE_BYTES} bytes: not a configuration file?", dest=str(path))
    attributes = FileAttributes(status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode))
    return FileState(content, attributes)


def owner_ids(spec: ResourceSpec) -> tuple[int | None, int | None]:
    """The uid and gid a resource asks for, names resolved; None where it asks for none.

    Raises:
        ApplyError: ``owner`` or ``group`` names no user or group on this host.
    """
    uid = spec.uid if spec.owner is None else _lookup(spec.owner, "owner", "user", spec.dest)
    gid = spec.gid if spec.group is None else _lookup(spec.group, "group", "group", spec.dest)
    return uid, gid


def _lookup(name: str, key: str, kind: str, dest: str) -> int:
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid if kind == "user" else grp.getgrnam(name).gr_gid
    except KeyError:
        raise ApplyError(f"{key}: no {kind} named {name!r} on this host", dest=dest) from None
