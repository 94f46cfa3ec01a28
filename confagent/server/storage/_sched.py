"""A hint to the kernel's scheduler for the threads that wait on the log's fsyncs: short slices.

Why: a put's ``fdatasync`` blocks its thread (the event loop, ``_fsync_thread`` rule 7)
until the disk answers; the kernel then wakes it, and on a busy machine the thread
woken waits for a CPU. Traced with perf on the 2-core machine of bench/README.md (issue
12; 1-client gRPC puts, load 23-35), the disk's part of our fsyncs was etcd's (as many
block requests per fsync, as long blocked), but the wait for a CPU after it was p90
0.36-3.7 ms against etcd's 0.12-0.18 ms in four turns of five: the member's one busy
thread, where etcd's work is spread over many, waited for the running task to use its
slice up (1.4 ms by default there). Linux's EEVDF scheduler (6.12 and later) takes a
thread's slice from ``sched_attr.sched_runtime`` under the normal policies: a thread
asking for a short one has an early deadline when it wakes and runs at once (p90
0.04-0.06 ms in the same trace). Its share of the CPU stays what its nice value makes it.
The before/after runs first recorded for it (``grpc_bench.py --base``) compared this
tree with itself (the flaw ``bench/_tree.tree_env`` fixed since): the traced wait is the
evidence, and bench/README.md has the comparison taken since.

Rules:

1. Only a thread under the normal policies (``SCHED_OTHER``, ``SCHED_BATCH``) is given
   the hint, and its policy and nice value stay as they were: an operator's ``nice`` or
   ``chrt`` wins.
2. The hint is not inherited (``SCHED_FLAG_RESET_ON_FORK``): threads and processes a
   hinted thread starts (workers, an agent's reload commands) get the kernel's default
   slice. (The flag also resets a negative nice value in what such a thread starts.)
3. A hint, not a requirement: where the call is missing (another platform, an old
   kernel) or refused, the thread stays as it was and ``ask_short_slice`` says False.
   Kernels before 6.12 take the call and ignore the slice.
"""

from __future__ import annotations

import ctypes
import platform
import struct

__all__ = ["SLICE_NS", "ask_short_slice", "thread_slice_ns"]

SLICE_NS = 100_000
"""The slice asked for: 0.1 ms, the shortest the kernel grants (its default was 1.4 ms here)."""

_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}
"""``sched_setattr`` and ``sched_getattr`` by machine."""
_ATTR = struct.Struct("<IIQiIQQQII")
"""``struct sched_attr`` (size, policy, flags, nice, priority, runtime, deadline, period, util min, max)."""
_NORMAL_POLICIES = (0, 3)  # SCHED_OTHER, SCHED_BATCH
_RESET_ON_FORK = 0x01


def ask_short_slice(slice_ns: int = SLICE_NS) -> bool:
    """Ask the kernel to run the calling thread in slices of ``slice_ns`` (rules in the module doc).

    Returns:
        Whether the kernel took the request (False: the thread is as it was).
    """
    calls = _SYSCALLS.get(platform.machine())
    attr = _get_attr(calls[1]) if calls else None
    if calls is None or attr is None or attr[1] not in _NORMAL_POLICIES:
        return False
    _, policy, _, nice, priority, *_ = attr
    wanted = _ATTR.pack(_ATTR.size, policy, _RESET_ON_FORK, nice, priority, slice_ns, 0, 0, 0, 0)
    return _syscall(calls[0], 0, ctypes.create_string_buffer(wanted, _ATTR.size), 0) == 0


def thread_slice_ns(native_id: int = 0) -> int | None:
    """The slice the kernel reports for the thread ``native_id`` (``threading.get_native_id()``;
    0: the calling thread), None where it cannot be read."""
    calls = _SYSCALLS.get(platform.machine())
    attr = _get_attr(calls[1], native_id) if calls else None
    return None if attr is None else int(attr[5])


def _get_attr(number: int, native_id: int = 0) -> tuple[int, ...] | None:
    buffer = ctypes.create_string_buffer(_ATTR.size)
    if _syscall(number, native_id, buffer, _ATTR.size, 0) != 0:
        return None
    return _ATTR.unpack(buffer.raw)


def _syscall(number: int, *args: object) -> int:
    """``syscall(2)`` from the C library; -1 when it fails or there is none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        result: int = libc.syscall(number, *args)
    except (OSError, AttributeError):
        return -1
    return result
