"""The history recorder: concurrent clients, unknown outcomes, and calls left open."""

from __future__ import annotations

import asyncio
import itertools
import math
import threading

import pytest

from confagent.testing._history import UNKNOWN, HistoryRecorder, Operation
from confagent.testing._linearizability import Get, KvInput, KvOutput, Put, check


def test_records_calls_answers_and_unknown_outcomes_in_call_order() -> None:
    ticks = itertools.count(100, 10)
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder(clock_ns=lambda: next(ticks))
    write = recorder.call(1, Put("x", "1"))
    read = recorder.call(2, Get("x"))
    recorder.ret(read, None)
    recorder.unknown(write)
    assert recorder.history() == [
        Operation(1, 100, math.inf, Put("x", "1"), UNKNOWN),
        Operation(2, 110, 120, Get("x"), None),
    ]


def test_calls_still_open_count_as_unknown() -> None:
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder()
    recorder.call(1, Put("x", "1"))
    [operation] = recorder.history()
    assert not operation.outcome_known and operation.return_ns == math.inf


def test_a_call_is_closed_once() -> None:
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder()
    token = recorder.call(1, Get("x"))
    recorder.ret(token, None)
    with pytest.raises(AssertionError):
        recorder.unknown(token)


def test_an_unknown_outcome_goes_with_an_infinite_return() -> None:
    with pytest.raises(AssertionError):
        Operation(1, 0, 5, Put("x", "1"), UNKNOWN)
    with pytest.raises(AssertionError):
        Operation(1, 0, math.inf, Put("x", "1"), None)
    with pytest.raises(AssertionError):
        Operation(1, 5, 4, Put("x", "1"), None)


def test_threads_sharing_a_register_give_a_linearizable_history() -> None:
    """Eight threads write and read one dict under a lock; the recorded history must check."""
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder()
    store: dict[str, str] = {}
    lock = threading.Lock()

    def client(number: int) -> None:
        for step in range(50):
            key = "ab"[step % 2]
            if step % 3 == 0:
                token = recorder.call(number, Put(key, f"{number}.{step}"))
                with lock:
                    store[key] = f"{number}.{step}"
                recorder.ret(token, None)
            else:
                token = recorder.call(number, Get(key))
                with lock:
                    value = store.get(key)
                recorder.ret(token, value)

    threads = [threading.Thread(target=client, args=(number,)) for number in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    history = recorder.history()
    assert len(history) == 400
    result = check(history)
    assert result.ok is True, result.explanation


def test_asyncio_tasks_can_record() -> None:
    recorder: HistoryRecorder[KvInput, KvOutput] = HistoryRecorder()

    async def client(number: int) -> None:
        token = recorder.call(number, Put("x", str(number)))
        await asyncio.sleep(0)
        recorder.ret(token, None)

    async def main() -> None:
        await asyncio.gather(*(client(number) for number in range(10)))

    asyncio.run(main())
    assert len(recorder.history()) == 10
    assert check(recorder.history()).ok is True
