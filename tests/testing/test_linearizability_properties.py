"""The checker against the definition: a brute-force search over every order, on thousands of small histories.

Histories come from a simulated atomic register with random timings (so they
are linearizable by construction), then some have answers changed. Hypothesis
prints the failing example; ``--hypothesis-seed=N`` replays a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from random import Random

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from confagent.testing._history import UNKNOWN, Operation
from confagent.testing._linearizability import KV_MODEL, Cas, Delete, Get, KvInput, KvOutput, Put, check
from tests.thoroughness import examples

from .histories import KvOperation, Outcome, Plan, brute_force_linearizable, simulate, with_output

KEYS = ("x", "y")
VALUES = ("1", "2", "3")
SMALL_OPS_MAX = 7
TWIN_CAS = Operation(0, 0, 0, Cas("x", None, "1"), True)
"""A compare-and-swap a client repeats at once, a mutation giving both the same answer: only one can succeed.

Hypothesis replayed such a history (two equal operations) and the old
``stuck not in linearized`` compared them by value; the examples keep both
kinds, equal objects and one object listed twice.
"""

keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
inputs: st.SearchStrategy[KvInput] = st.one_of(
    st.builds(Put, keys, values),
    st.builds(Get, keys),
    st.builds(Cas, keys, st.none() | values, values),
    st.builds(Delete, keys),
)
outcomes = st.sampled_from([Outcome.KNOWN, Outcome.KNOWN, Outcome.UNKNOWN_APPLIED, Outcome.UNKNOWN_LOST])
durations = st.integers(0, 4)
plans = st.builds(Plan, st.integers(0, 3), inputs, durations, durations, durations, outcomes)
answers: st.SearchStrategy[KvOutput] = st.none() | values | st.booleans()


def answer_for(input: KvInput, drawn: KvOutput) -> KvOutput:
    """A wrong-or-right answer of the right type for ``input``."""
    if isinstance(input, Get):
        return drawn if not isinstance(drawn, bool) else None
    if isinstance(input, Cas):
        return drawn if isinstance(drawn, bool) else not drawn
    return None


@st.composite
def mutated_histories(draw: st.DrawFn, ops_max: int) -> list[KvOperation]:
    history = simulate(draw(st.lists(plans, min_size=1, max_size=ops_max)))
    for _ in range(draw(st.integers(1, 2))):
        index = draw(st.integers(0, len(history) - 1))
        history = with_output(history, index, answer_for(history[index].input, draw(answers)))
    return history


def assert_counterexample_holds(history: Sequence[KvOperation]) -> None:
    """A failing answer's prefix is a real partial linearization, and its stuck operation is not in it."""
    result = check(history, timeout_s=None)
    if result.ok is not False:
        return
    counterexample = result.counterexample
    assert counterexample is not None
    state = KV_MODEL.init()
    for operation in counterexample.linearized:
        accepted, state = KV_MODEL.step(state, operation.input, operation.output)
        assert accepted
    assert state == counterexample.state
    assert counterexample.stuck.outcome_known
    placed = [*counterexample.linearized, counterexample.stuck]
    for operation in placed:
        assert _count_of(operation, placed) <= _count_of(operation, counterexample.operations), (
            f"{operation} is placed more often than the partition holds it"
        )


def _count_of(operation: KvOperation, operations: Sequence[KvOperation]) -> int:
    """How often this very object is listed: equal operations are distinct, one object twice is two."""
    return sum(other is operation for other in operations)


@settings(max_examples=examples(1000), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(plans, min_size=0, max_size=40))
def test_a_simulated_register_is_always_linearizable(drawn: list[Plan]) -> None:
    history = simulate(drawn)
    result = check(history, timeout_s=None)
    assert result.ok is True, result.explanation


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_histories(SMALL_OPS_MAX))
@example([TWIN_CAS, TWIN_CAS])
@example([TWIN_CAS, Operation(0, 0, 0, Cas("x", None, "1"), True)])
def test_agrees_with_brute_force_on_mutated_histories(history: list[KvOperation]) -> None:
    result = check(history, timeout_s=None)
    event(f"linearizable: {result.ok}")
    assert result.ok is brute_force_linearizable(history), result.explanation
    assert_counterexample_holds(history)


@st.composite
def arbitrary_histories(draw: st.DrawFn) -> list[KvOperation]:
    """Any intervals and any answers: mostly not linearizable."""
    history: list[KvOperation] = []
    for client in range(draw(st.integers(1, 6))):
        input = draw(inputs)
        call_ns = draw(st.integers(0, 10))
        if draw(st.integers(0, 4)) == 0:
            history.append(Operation(client, call_ns, float("inf"), input, UNKNOWN))
        else:
            return_ns = call_ns + draw(st.integers(0, 10))
            history.append(Operation(client, call_ns, return_ns, input, answer_for(input, draw(answers))))
    return history


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arbitrary_histories())
def test_agrees_with_brute_force_on_arbitrary_histories(history: list[KvOperation]) -> None:
    result = check(history, timeout_s=None)
    event(f"linearizable: {result.ok}")
    assert result.ok is brute_force_linearizable(history), result.explanation
    assert_counterexample_holds(history)


@settings(max_examples=examples(200), deadline=None)
@given(mutated_histories(SMALL_OPS_MAX), st.randoms(use_true_random=False))
def test_the_answer_does_not_depend_on_the_history_order(history: list[KvOperation], rng: Random) -> None:
    shuffled = list(history)
    rng.shuffle(shuffled)
    first, second = check(history, timeout_s=None), check(shuffled, timeout_s=None)
    assert (first.ok, first.explanation) == (second.ok, second.explanation)
