"""The linearizability checker on hand-written histories, a second model, big histories and timeouts."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass

from confagent.testing._history import UNKNOWN, Operation, Unknown
from confagent.testing._linearizability import (
    KV_MODEL,
    Cas,
    Delete,
    Get,
    KvInput,
    KvOutput,
    Put,
    Unread,
    check,
)

from .histories import KvOperation, Outcome, Plan, random_plans, simulate, with_output

MS = 1_000_000


def op(client: int, call_ms: float, return_ms: float | None, input: KvInput,
       output: KvOutput = None) -> KvOperation:
    """An operation with times in ms; ``return_ms=None`` makes its outcome unknown."""
    if return_ms is None:
        return Operation(client, int(call_ms * MS), math.inf, input, UNKNOWN)
    return Operation(client, int(call_ms * MS), int(return_ms * MS), input, output)


def test_sequential_history_is_linearizable() -> None:
    history = [op(0, 0, 1, Put("x", "1")), op(0, 2, 3, Get("x"), "1"), op(0, 4, 5, Cas("x", "1", "2"), True),
               op(0, 6, 7, Get("x"), "2"), op(0, 8, 9, Delete("x")), op(0, 10, 11, Get("x"), None)]
    result = check(history)
    assert result.ok is True, result.explanation
    assert result.counterexample is None


def test_one_object_listed_three_times_is_three_operations() -> None:
    twin = op(0, 0, 10, Cas("x", None, "1"), True)
    result = check([twin, twin, twin, op(1, 20, 21, Get("x"), "1")])
    assert result.ok is False and result.counterexample is not None
    assert len(result.counterexample.linearized) == 1
    assert "and no order of the other operations" in result.explanation, "the third is told apart"
    assert result.explanation.count("cas('x', None, '1') -> True") == 3, result.explanation


def test_empty_history_is_linearizable() -> None:
    assert check([]).ok is True


def test_concurrent_writes_may_take_effect_in_either_order() -> None:
    writes = [op(0, 0, 10, Put("x", "1")), op(1, 0, 10, Put("x", "2"))]
    assert check([*writes, op(2, 11, 12, Get("x"), "1")]).ok is True
    assert check([*writes, op(2, 11, 12, Get("x"), "2")]).ok is True


def test_read_concurrent_with_a_write_may_see_either_value() -> None:
    base = [op(0, 0, 1, Put("x", "1")), op(0, 2, 10, Put("x", "2"))]
    assert check([*base, op(1, 3, 4, Get("x"), "1")]).ok is True
    assert check([*base, op(1, 3, 4, Get("x"), "2")]).ok is True


def test_stale_read_is_caught() -> None:
    history = [op(0, 0, 1, Put("x", "1")), op(0, 2, 3, Put("x", "2")), op(1, 4, 5, Get("x"), "1")]
    result = check(history)
    assert result.ok is False
    assert result.counterexample is not None
    assert result.counterexample.stuck is history[2]
    assert [str(o.input) for o in result.counterexample.linearized] == ["put('x', '1')", "put('x', '2')"]
    assert result.counterexample.state == (("x", Unread.VALUE),), "nothing reads '2'"
    assert "client 1: get('x') -> '1'" in result.explanation


def test_reads_going_back_in_time_are_caught() -> None:
    """Two reads of one client see a new value, then the old one, while one write is in flight."""
    history = [op(0, 0, 1, Put("x", "1")), op(0, 2, 20, Put("x", "2")),
               op(1, 3, 4, Get("x"), "2"), op(1, 5, 6, Get("x"), "1")]
    assert check(history).ok is False


def test_lost_update_is_caught() -> None:
    """Two increments by compare-and-swap both succeed from the same value, yet the later read sees one."""
    history = [op(0, 0, 1, Put("n", "0")),
               op(1, 2, 5, Get("n"), "0"), op(2, 2, 5, Get("n"), "0"),
               op(1, 6, 9, Put("n", "1")), op(2, 6, 9, Put("n", "1")),
               op(3, 10, 11, Get("n"), "1")]
    assert check(history).ok is True, "plain puts may overwrite: that is not a lost update"
    history[3:5] = [op(1, 6, 9, Cas("n", "0", "1"), True), op(2, 6, 9, Cas("n", "0", "1"), True)]
    assert check(history).ok is False


def test_two_successful_cas_from_one_value_are_caught() -> None:
    history = [op(0, 0, 1, Put("x", "a")),
               op(1, 2, 10, Cas("x", "a", "b"), True), op(2, 2, 10, Cas("x", "a", "c"), True)]
    assert check(history).ok is False
    history[2] = op(2, 2, 10, Cas("x", "a", "c"), False)
    assert check(history).ok is True


def test_cas_on_an_absent_key() -> None:
    assert check([op(0, 0, 1, Cas("x", None, "1"), True), op(0, 2, 3, Get("x"), "1")]).ok is True
    assert check([op(0, 0, 1, Cas("x", None, "1"), False)]).ok is False
    assert check([op(0, 0, 1, Put("x", "1")), op(0, 2, 3, Cas("x", None, "2"), True)]).ok is False


def test_read_of_a_value_never_written_is_caught() -> None:
    history = [op(0, 0, 1, Put("x", "1")), op(1, 0, 5, Get("x"), "9")]
    result = check(history)
    assert result.ok is False
    assert result.counterexample is not None and result.counterexample.stuck is history[1]


def test_read_of_a_deleted_key_is_caught() -> None:
    history = [op(0, 0, 1, Put("x", "1")), op(0, 2, 3, Delete("x")), op(1, 4, 5, Get("x"), "1")]
    assert check(history).ok is False


def test_ambiguous_write_observed_later() -> None:
    history = [op(0, 0, None, Put("x", "1")), op(1, 50, 51, Get("x"), "1")]
    assert check(history).ok is True


def test_ambiguous_write_never_observed() -> None:
    history = [op(0, 0, None, Put("x", "1")), op(1, 50, 51, Get("x"), None), op(1, 52, 53, Get("x"), None)]
    assert check(history).ok is True


def test_ambiguous_write_takes_effect_at_most_once_and_only_after_its_call() -> None:
    seen_then_gone = [op(0, 0, None, Put("x", "1")), op(1, 5, 6, Get("x"), "1"), op(1, 7, 8, Get("x"), None)]
    assert check(seen_then_gone).ok is False
    seen_before_call = [op(1, 0, 1, Get("x"), "1"), op(0, 5, None, Put("x", "1"))]
    assert check(seen_before_call).ok is False


def test_ambiguous_write_may_take_effect_long_after_its_client_gave_up() -> None:
    history = [op(0, 0, None, Put("x", "1")), op(0, 10, 11, Put("x", "2")),
               op(1, 20, 21, Get("x"), "2"), op(1, 30, 31, Get("x"), "1")]
    assert check(history).ok is True


def test_ambiguous_cas_takes_effect_only_if_its_expectation_holds() -> None:
    base = [op(0, 0, 1, Put("x", "a")), op(1, 2, None, Cas("x", "zzz", "b"))]
    assert check([*base, op(2, 10, 11, Get("x"), "b")]).ok is False
    base[1] = op(1, 2, None, Cas("x", "a", "b"))
    assert check([*base, op(2, 10, 11, Get("x"), "b")]).ok is True
    assert check([*base, op(2, 10, 11, Get("x"), "a")]).ok is True


def test_keys_are_independent_and_the_failing_key_is_reported() -> None:
    history = [op(0, 0, 1, Put("a", "1")), op(0, 0, 1, Put("b", "1")),
               op(1, 2, 3, Get("a"), "1"), op(1, 4, 5, Get("b"), "2")]
    result = check(history)
    assert result.ok is False
    assert result.counterexample is not None
    assert {o.input.key for o in result.counterexample.operations} == {"b"}


def test_partition_leaves_out_unknown_reads() -> None:
    history = [op(0, 0, 1, Put("b", "1")), op(1, 0, None, Get("a")), op(1, 0, 1, Get("a"), None)]
    parts = KV_MODEL.partition(history)
    assert [[o.input.key for o in part] for part in parts] == [["a"], ["b"]]


def test_the_history_order_does_not_matter() -> None:
    history = [op(0, 0, 1, Put("x", "1")), op(0, 2, 3, Put("x", "2")), op(1, 4, 5, Get("x"), "1")]
    results = [check(list(order)) for order in (history, history[::-1], history[1:] + history[:1])]
    assert {result.ok for result in results} == {False}
    assert len({result.explanation for result in results}) == 1


def test_equal_times_count_as_concurrent() -> None:
    history = [op(0, 0, 5, Put("x", "1")), op(1, 5, 6, Get("x"), None)]
    assert check(history).ok is True


def test_timeout_answers_none() -> None:
    history = [op(0, 0, 1, Put("x", "1"))]
    result = check(history, timeout_s=0.0)
    assert result.ok is None
    assert "timed out" in result.explanation


# -- a second model: the checker is not tied to the key-value register ----------------------------


@dataclass(frozen=True, slots=True)
class Inc:
    pass


@dataclass(frozen=True, slots=True)
class Read:
    pass


class CounterModel:
    """A counter: increments answer nothing, reads answer the count. One partition."""

    def init(self) -> int:
        return 0

    def step(self, state: int, input: Inc | Read, output: int | Unknown | None) -> tuple[bool, int]:
        if isinstance(input, Inc):
            return True, state + 1
        return isinstance(output, Unknown) or output == state, state

    def partition(
        self, history: Sequence[Operation[Inc | Read, int | None]]
    ) -> list[Sequence[Operation[Inc | Read, int | None]]]:
        return [history]


def test_another_model_plugs_in() -> None:
    def counter_op(call_ms: int, return_ms: int, input: Inc | Read,
                   output: int | None) -> Operation[Inc | Read, int | None]:
        return Operation(0, call_ms * MS, return_ms * MS, input, output)

    incs = [counter_op(0, 10, Inc(), None), counter_op(0, 10, Inc(), None)]
    assert check([*incs, counter_op(5, 6, Read(), 1)], CounterModel()).ok is True
    assert check([*incs, counter_op(11, 12, Read(), 1)], CounterModel()).ok is False
    assert check([*incs, counter_op(11, 12, Read(), 2)], model=CounterModel()).ok is True


def test_timeout_inside_a_hopeless_search() -> None:
    """Forty ambiguous increments, then a read no subset of them explains: 2**40 points to visit."""
    history: list[Operation[Inc | Read, int | None]] = [
        Operation(i, 0, math.inf, Inc(), UNKNOWN) for i in range(40)]
    history.append(Operation(99, 1, 2, Read(), -1))
    started = time.monotonic()
    result = check(history, CounterModel(), timeout_s=0.2)
    assert result.ok is None
    assert result.steps > 0
    assert time.monotonic() - started < 30, "the deadline is honoured inside one partition"


# -- size -----------------------------------------------------------------------------------------


def big_history(seed: int) -> list[KvOperation]:
    """5 clients x 200 operations on 5 keys, overlapping heavily, 2% of them ambiguous."""
    plans = random_plans(random.Random(seed), clients=5, per_client=200, keys="abcde", unknown_rate=0.02)
    return simulate(plans)


def test_five_clients_by_two_hundred_operations_check_quickly() -> None:
    history = big_history(seed=7)
    assert len(history) == 1000
    result = check(history, timeout_s=600.0)  # the bound that matters is on steps, not seconds
    assert result.ok is True, result.explanation
    assert result.steps < 20 * len(history), f"the search wandered: {result.steps} steps"


def test_a_violation_in_a_big_history_is_found() -> None:
    history = big_history(seed=8)
    last_read = max(i for i, o in enumerate(history) if isinstance(o.input, Get) and o.outcome_known)
    history = with_output(history, last_read, "never written")
    result = check(history, timeout_s=30.0)
    assert result.ok is False
    assert result.counterexample is not None and result.counterexample.stuck is history[last_read]


def test_plans_with_every_outcome_give_the_expected_history() -> None:
    plans = [Plan(0, Put("x", "1"), 0, 1, 1), Plan(1, Put("x", "2"), 0, 3, 1, Outcome.UNKNOWN_LOST),
             Plan(1, Put("x", "3"), 0, 1, 1, Outcome.UNKNOWN_APPLIED), Plan(0, Get("x"), 10, 1, 1)]
    history = simulate(plans)
    assert [o.outcome_known for o in history] == [True, False, False, True]
    assert history[3].output == "3"
    assert check(history).ok is True
