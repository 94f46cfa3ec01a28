"""A cgroup holding a benchmark's stand-in processes to a share of the CPU, behind every other process.

Processes that stand for other hosts (a fleet's learners, each on a host of its own
in production) must not take the CPU the measured processes wait for, yet must run
to keep up. In a group of the cgroup v1 ``cpu`` controller they are held together
to ``cores`` (``cpu.cfs_quota_us`` over ``cpu.cfs_period_us``) and weigh the least
against any other runnable process (``cpu.shares`` 2, against 1024 for each process
outside): the measured processes get a core whenever they want one, and the group
the rest, up to its quota. Their runnable threads still count in the load average.

Rules:
1. ``cpu_group(cores)`` makes ``/sys/fs/cgroup/cpu/confagent-bench-PID``; ``add`` moves a
   process and every thread it has or starts into it. On leaving, the processes still
   in it go back to the root group and the group is removed.
2. ``set_idle(True)`` marks the group ``cpu.idle`` (kernel 5.15+): its processes then run
   as ``SCHED_IDLE`` against the others, a waking process outside preempting them at
   once, where a group of least weight may finish its slice first; quota unchanged.
3. Without the controller mounted there, or writable (not root), ``CpuGroupError``
   says so before anything is started.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CpuGroup", "CpuGroupError", "cpu_group"]

ROOT = Path("/sys/fs/cgroup/cpu")
LEAST_SHARES = 2
"""The smallest ``cpu.shares`` the kernel takes: the group runs when nothing else wants the CPU."""


class CpuGroupError(RuntimeError):
    """The cgroup v1 ``cpu`` controller, or a file of it, is not there to use (rule 3)."""


@dataclass(frozen=True, slots=True)
class CpuGroup:
    path: Path
    cores: float

    def add(self, pid: int) -> None:
        """Move ``pid`` (all its threads, and those it starts later) into the group."""
        (self.path / "cgroup.procs").write_text(str(pid))

    def set_idle(self, idle: bool) -> None:
        """Mark the group ``cpu.idle`` or not (rule 2).

        Raises:
            CpuGroupError: the kernel has no ``cpu.idle`` (before 5.15).
        """
        path = self.path / "cpu.idle"
        if not path.exists():
            raise CpuGroupError(f"no {path}: the kernel predates cpu.idle (5.15)")
        path.write_text("1" if idle else "0")

    def throttled_s(self) -> float:
        """Seconds the group's processes waited for its quota so far (``cpu.stat``'s ``throttled_time``)."""
        for line in (self.path / "cpu.stat").read_text().splitlines():
            name, value = line.split()
            if name == "throttled_time":
                return int(value) / 1e9
        return 0.0


@contextmanager
def cpu_group(cores: float) -> Iterator[CpuGroup]:
    """A group holding its processes to ``cores`` of CPU at the least weight (rules 1 and 3).

    Raises:
        CpuGroupError: the controller cannot be used here.
    """
    if not (ROOT / "cpu.cfs_quota_us").exists() or not os.access(ROOT, os.W_OK):
        raise CpuGroupError(f"no writable cgroup v1 cpu controller at {ROOT} (mounted, and run as root?)")
    path = ROOT / f"confagent-bench-{os.getpid()}"
    path.mkdir()
    try:
        period_us = int((path / "cpu.cfs_period_us").read_text())
        (path / "cpu.cfs_quota_us").write_text(str(max(1000, round(cores * period_us))))
        (path / "cpu.shares").write_text(str(LEAST_SHARES))
        yield CpuGroup(path, cores)
    finally:
        for pid in (path / "cgroup.procs").read_text().split():
            with contextlib.suppress(OSError):  # it ended meanwhile
                (ROOT / "cgroup.procs").write_text(pid)
        path.rmdir()
