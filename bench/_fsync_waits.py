"""Where a server's write-ahead-log fsyncs spend their time: blocked on the disk, or woken and waiting
for a CPU (``grpc_bench.py --fsync-waits``).

``perf record -a`` takes the kernel's tracepoints while the server is measured: the ``fdatasync``
system calls and the scheduler's switches and wake-ups. Each ``fdatasync`` of the server on its
log (the file descriptor it syncs most often: etcd's bbolt file is synced a few times a second)
is cut into the time its thread was switched out until woken (the disk), the time from the
wake-up to running again (waiting for a CPU), and the rest (on a CPU). Needs ``perf`` and the
right to trace the whole machine (root, or ``perf_event_paranoid`` at -1). Tracing costs both
servers alike, but their figures while traced are not the untraced ones.
"""

from __future__ import annotations

import re
import signal
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FsyncWaits", "Recording", "cut", "fsync_waits"]

EVENTS = ("syscalls:sys_enter_fdatasync", "syscalls:sys_exit_fdatasync", "sched:sched_waking",
          "sched:sched_switch")
STOP_TIMEOUT_S = 60
_LINE = re.compile(r"\s*(\d+)/(\d+)\s+([\d.]+):\s+(\S+):\s*(.*)")
_SWITCH = re.compile(r"prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)")


class Recording:
    """``perf record -a`` of :data:`EVENTS` into ``path`` while the ``with`` block runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._perf: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Recording:
        self._perf = subprocess.Popen(["perf", "record", "-q", "-a", "-o", str(self.path),
                                       *(arg for event in EVENTS for arg in ("-e", event))],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._perf is not None
        self._perf.send_signal(signal.SIGINT)
        _, errors = self._perf.communicate(timeout=STOP_TIMEOUT_S)
        if self._perf.returncode not in (0, -signal.SIGINT):
            raise RuntimeError(f"perf record failed: {errors.decode(errors='replace')[-500:]}")


@dataclass
class _Sync:
    start: float
    blocked_s: float = 0.0
    waiting_s: float = 0.0
    out: float | None = None
    woken: float | None = None


@dataclass
class FsyncWaits:
    """Each log fsync's parts, in microseconds."""

    total: list[float] = field(default_factory=list)
    blocked: list[float] = field(default_factory=list)
    waiting: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        """As grpc_bench's figures (lower is better: the names say latency)."""
        return {"fsync latency p50 us": _percentile(self.total, 0.5),
                "fsync latency p99 us": _percentile(self.total, 0.99),
                "fsync latency blocked mean us": statistics.fmean(self.blocked),
                "fsync latency CPU wait mean us": statistics.fmean(self.waiting),
                "fsync latency CPU wait p90 us": _percentile(self.waiting, 0.9)}


def fsync_waits(path: Path, pid: int) -> FsyncWaits:
    """The log fsyncs of process ``pid`` in the recording at ``path``, cut into their parts.

    Raises:
        RuntimeError: the recording holds no fdatasync of ``pid``.
    """
    script = subprocess.run(["perf", "script", "-i", str(path), "-F", "pid,tid,time,event,trace"],
                            capture_output=True, text=True, check=True, timeout=STOP_TIMEOUT_S).stdout
    return cut(script, pid)


def cut(script: str, pid: int) -> FsyncWaits:
    """:func:`fsync_waits` from ``perf script -F pid,tid,time,event,trace``'s text.

    Raises:
        RuntimeError: the text holds no fdatasync of ``pid``.
    """
    matches = filter(None, map(_LINE.match, script.splitlines()))
    events = [(int(m[1]), int(m[2]), float(m[3]), m[4], m[5]) for m in matches]
    descriptors = Counter(trace.split("fd: ")[1].split()[0] for p, _, _, event, trace in events
                          if p == pid and event == EVENTS[0])
    if not descriptors:
        raise RuntimeError(f"no fdatasync of process {pid} in the recording")
    log_fd = "fd: " + descriptors.most_common(1)[0][0]
    result, syncing = FsyncWaits(), dict[int, _Sync]()
    for p, tid, time_s, event, trace in events:
        if event == EVENTS[0] and p == pid and trace.startswith(log_fd):
            syncing[tid] = _Sync(time_s)
        elif event == EVENTS[1] and tid in syncing:
            sync = syncing.pop(tid)
            result.total.append(1e6 * (time_s - sync.start))
            result.blocked.append(1e6 * sync.blocked_s)
            result.waiting.append(1e6 * sync.waiting_s)
        elif event == EVENTS[2]:
            sync_woken = syncing.get(int(trace.split(" pid=")[1].split()[0]))
            if sync_woken is not None and sync_woken.out is not None and sync_woken.woken is None:
                sync_woken.woken = time_s
        elif event == EVENTS[3] and (switch := _SWITCH.search(trace)):
            _switched(syncing, time_s, int(switch[1]), switch[2].startswith("R"), int(switch[3]))
    return result


def _switched(syncing: dict[int, _Sync], time_s: float, prev: int, preempted: bool, following: int) -> None:
    """A CPU went from thread ``prev`` to ``following``: the parts of their fsyncs move on."""
    if prev in syncing:
        syncing[prev].out = time_s
        syncing[prev].woken = time_s if preempted else None  # preempted: runnable at once
    sync = syncing.get(following)
    if sync is not None and sync.out is not None:
        woken = sync.woken if sync.woken is not None else time_s
        sync.blocked_s += woken - sync.out
        sync.waiting_s += time_s - woken
        sync.out = sync.woken = None


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]
