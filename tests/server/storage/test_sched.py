"""The log's threads ask the kernel for short slices (``_sched``, ``_fsync_thread`` rule 9)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from confagent.server.storage import Wal, WalWriter
from confagent.server.storage._sched import SLICE_NS, ask_short_slice, thread_slice_ns

T = TypeVar("T")


def in_new_thread(work: Callable[[], T]) -> T:
    """``work``'s result, run in a thread of its own (the test's thread keeps its scheduling)."""
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(work()))
    thread.start()
    thread.join()
    return results[0]


def _kernel_grants_slices() -> bool:
    return in_new_thread(lambda: ask_short_slice() and thread_slice_ns() == SLICE_NS)


needs_slices = pytest.mark.skipif(not _kernel_grants_slices(),
                                  reason="this kernel reports no custom slice (Linux < 6.12)")


@needs_slices
def test_a_writer_gives_the_loop_making_it_and_its_own_thread_short_slices(tmp_path: Path) -> None:
    async def make() -> tuple[int | None, int | None, int | None, bool]:
        before = thread_slice_ns()
        wal, _ = Wal.open(tmp_path)
        writer = WalWriter(wal)
        await writer.start_save(None, (), sync=True, behind=True)  # the thread asked before it answered
        assert writer._thread.native_id is not None
        writer_thread = thread_slice_ns(writer._thread.native_id)
        seen = (before, thread_slice_ns(), writer_thread, writer.short_slices)
        await writer.close()
        return seen

    before, loop_thread, writer_thread, took = in_new_thread(lambda: asyncio.run(make()))
    assert before != SLICE_NS
    assert (loop_thread, writer_thread, took) == (SLICE_NS, SLICE_NS, True)


@needs_slices
def test_the_hint_keeps_the_nice_value_and_is_not_inherited() -> None:
    def hinted() -> tuple[int, int | None, int | None]:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 7)
        assert ask_short_slice()
        started = in_new_thread(thread_slice_ns)
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), thread_slice_ns(), started

    nice, own, started = in_new_thread(hinted)
    assert (nice, own) == (7, SLICE_NS)
    assert started is not None and started != SLICE_NS


@needs_slices
def test_a_thread_an_operator_made_idle_is_left_alone() -> None:
    def idle() -> tuple[bool, int, int | None]:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return ask_short_slice(), os.sched_getscheduler(0), thread_slice_ns()

    took, policy, slice_ns = in_new_thread(idle)
    assert (took, policy) == (False, os.SCHED_IDLE)
    assert slice_ns != SLICE_NS
