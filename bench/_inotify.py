"""``RenameWatch``: wait for a file to be replaced by rename, asleep in the kernel rather than spinning.

A benchmark that spins on ``os.stat`` to see a replaced file takes a core
for itself, and on a 2-core machine that core is missing from what it
measures. This waits in ``select`` on an inotify descriptor watching the
file's directory for ``IN_MOVED_TO`` (what ``rename`` into it gives) and
reads the time when the event for that name arrives: the kernel wakes it,
tens of microseconds after the rename, and it uses no CPU meanwhile.
Linux only (libc's ``inotify_init1`` and ``inotify_add_watch`` through ctypes).
"""

from __future__ import annotations

import ctypes
import os
import select
import struct
import time
from pathlib import Path
from types import TracebackType

__all__ = ["RenameWatch"]

_IN_MOVED_TO = 0x00000080
_IN_NONBLOCK = 0o4000
_IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name, NUL-padded
_libc = ctypes.CDLL(None, use_errno=True)


class RenameWatch:
    """Renames into ``directory``: ``drain`` what is queued, then ``wait_for(name, deadline)``."""

    def __init__(self, directory: Path) -> None:
        self._fd = _libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if _libc.inotify_add_watch(self._fd, os.fsencode(directory), _IN_MOVED_TO) < 0:
            os.close(self._fd)
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {directory}")

    def __enter__(self) -> RenameWatch:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        os.close(self._fd)

    def drain(self) -> None:
        """Forget the renames seen so far."""
        self._names()

    def wait_for(self, name: str, deadline_s: float) -> float:
        """The ``perf_counter`` time a rename to ``name`` was seen at; RuntimeError past the deadline."""
        wanted = os.fsencode(name)
        while True:
            if wanted in self._names():
                return time.perf_counter()
            left = deadline_s - time.perf_counter()
            if left <= 0:
                raise RuntimeError(f"{name} was not replaced in time")
            select.select([self._fd], [], [], left)

    def _names(self) -> list[bytes]:
        try:
            data = os.read(self._fd, 65536)
        except BlockingIOError:
            return []
        names, offset = [], 0
        while offset < len(data):
            _, _, _, length = _EVENT.unpack_from(data, offset)
            offset += _EVENT.size
            names.append(data[offset:offset + length].rstrip(b"\0"))
            offset += length
        return names
