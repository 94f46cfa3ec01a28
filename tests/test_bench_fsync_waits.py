"""bench/_fsync_waits.py: a log fsync cut into the time blocked on the disk and the time woken and waiting
for a CPU, from perf script's lines (as ``perf script -F pid,tid,time,event,trace`` prints them)."""

from __future__ import annotations

import pytest

from tests.bench_modules import load_bench_module

waits = load_bench_module("_fsync_waits")


def enter(tid: int, at: float, fd: int, pid: int = 100) -> str:
    return f"{pid}/{tid} {at:.6f}: syscalls:sys_enter_fdatasync: fd: 0x{fd:08x}"


def leave(tid: int, at: float, pid: int = 100) -> str:
    return f"{pid}/{tid} {at:.6f}:  syscalls:sys_exit_fdatasync: 0x0"


def switch(at: float, prev: int, state: str, following: int) -> str:
    return (f"0/0 {at:.6f}: sched:sched_switch: prev_comm=a prev_pid={prev} prev_prio=120 "
            f"prev_state={state} ==> next_comm=b next_pid={following} next_prio=120")


def waking(at: float, tid: int) -> str:
    return f"   7/7    {at:.6f}: sched:sched_waking: comm=python3 pid={tid} prio=120 target_cpu=001"


def test_an_fsync_is_cut_into_disk_cpu_wait_and_the_rest() -> None:
    script = "\n".join([
        enter(100, 1.000000, 13),
        switch(1.000010, 100, "D", 5),     # blocked on the disk ...
        waking(1.000110, 100),             # ... for 100 us, then woken
        switch(1.000410, 5, "R", 100),     # runs 300 us later
        leave(100, 1.000420),
        enter(100, 2.000000, 13),          # never switched out
        leave(100, 2.000050),
        enter(100, 3.000000, 9),           # another file, synced less often: not the log
        switch(3.000010, 100, "D", 5),
        waking(3.000500, 100),
        switch(3.000600, 5, "S", 100),
        leave(100, 3.000610),
        enter(200, 4.000000, 13, pid=200),  # another process
        leave(200, 4.000900, pid=200),
    ])
    cut = waits.cut(script, 100)
    assert cut.total == pytest.approx([420, 50])
    assert cut.blocked == pytest.approx([100, 0])
    assert cut.waiting == pytest.approx([300, 0])


def test_a_thread_preempted_inside_its_fsync_waits_from_the_switch() -> None:
    script = "\n".join([
        enter(101, 1.0, 13),
        switch(1.000020, 101, "R+", 5),   # preempted: runnable at once, nothing blocked
        switch(1.000220, 5, "R", 101),
        leave(101, 1.000230),
    ])
    cut = waits.cut(script, 100)
    assert (cut.blocked, cut.waiting) == (pytest.approx([0]), pytest.approx([200]))


def test_a_recording_without_the_process_s_fsyncs_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no fdatasync of process 100"):
        waits.cut(enter(200, 1.0, 13, pid=200), 100)
