"""Debouncer: quiescence windows (render after min of silence, at most max after the first change)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from confagent.agent import Debouncer
from confagent.resource import Wait


def test_without_a_wait_a_mark_is_due_at_once() -> None:
    debouncer = Debouncer()
    debouncer.mark("a", 10.0, None)
    assert debouncer.take_due(10.0) == ["a"]
    assert debouncer.take_due(99.0) == [] and len(debouncer) == 0


def test_quiescence_then_the_max_bound() -> None:
    debouncer, wait = Debouncer(), Wait(1.0, 5.0)
    debouncer.mark("a", 0.0, wait)
    debouncer.mark("a", 0.5, wait)
    assert debouncer.next_due_s() == 1.5
    assert debouncer.take_due(1.4) == []
    for now_s in (1.0, 2.0, 3.0, 4.0):  # a steady stream never stays silent for min
        debouncer.mark("a", now_s, wait)
    assert debouncer.next_due_s() == 5.0
    assert debouncer.take_due(5.0) == ["a"]


def test_mark_now_overrides_a_pending_wait_and_forget_drops() -> None:
    debouncer = Debouncer()
    debouncer.mark("a", 0.0, Wait(10.0, 100.0))
    debouncer.mark("b", 0.0, Wait(10.0, 100.0))
    debouncer.mark_now(["a"], 1.0)
    debouncer.forget(["b"])
    assert debouncer.take_due(1.0) == ["a"] and len(debouncer) == 0


@given(st.lists(st.floats(0, 10), min_size=1, max_size=50), st.floats(0, 3), st.floats(0, 10))
def test_due_is_within_the_window(gaps: list[float], min_s: float, extra_s: float) -> None:
    wait, debouncer, now_s = Wait(min_s, min_s + extra_s), Debouncer(), 0.0
    marks = []
    for gap in gaps:
        now_s += gap
        marks.append(now_s)
        debouncer.mark("a", now_s, wait)
    due = debouncer.next_due_s()
    assert due is not None
    assert due <= marks[0] + wait.max_s
    assert due == min(marks[-1] + wait.min_s, marks[0] + wait.max_s)
