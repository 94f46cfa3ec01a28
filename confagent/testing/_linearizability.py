"""Checks that a history of client operations is linearizable, against a key-value register model.

Rules:
1. A history is linearizable when its operations can be put in one order that
   (a) keeps real-time order: an operation that returned before another was
   called comes first (equal times count as concurrent), (b) the model accepts,
   step by step from its initial state, and (c) holds every operation with a
   known outcome and any subset of the unknown ones: an ambiguous write took
   effect at some moment after its call, or never.
2. P-compositionality: a history is linearizable iff each of the model's
   partitions is (the key-value model partitions by key). Partitions are
   checked one by one, in the model's order; the first that fails is reported.
3. The search is Wing & Gong's with Lowe's just-in-time linearization, as
   Porcupine does it: the calls and returns of the known operations form one
   list in time order. Walking it from the front, a call whose operation the
   model accepts in the current state is linearized: it and its return are
   lifted out of the list and the walk starts over. Reaching a return means
   that operation should have been linearized by then: first try the unknown
   operations called by then (one may take effect there), then undo the last
   choice and try the one after it. When the list is empty, every known
   operation is linearized and the unknown ones left never took effect.
4. Memoisation: a point of the search is (known operations linearized, unknown
   operations linearized, model state); what can follow depends on nothing
   else. A point is explored once, and not at all if one with the same known
   operations and state and a subset of its unknown ones was: that one can do
   all it can, since an unknown operation may always be left out.
5. A model is deterministic and its states are hashable: for a state and an
   input there is one correct output and one next state. Given the output
   ``UNKNOWN`` it accepts and returns that next state.
6. Same history, same answer and same counterexample; only the timeout depends
   on the clock, and a timed-out check answers ``ok=None``, never a guess.
7. The key-value model stores one placeholder, ``Unread.VALUE``, for every
   written value that no read answers and no compare-and-swap expects: no
   operation can tell such values apart, and merging them lets the memo prune
   the many orders of writes nobody saw (typically ambiguous ones). Its
   ``partition`` marks those writes; the marked operations compare equal to
   the originals and print the same.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Final, Generic, Protocol, TypeAlias, TypeVar, overload

from confagent.testing._history import Operation, Unknown

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "KV_MODEL",
    "Cas",
    "CheckResult",
    "Counterexample",
    "Delete",
    "Get",
    "KvInput",
    "KvModel",
    "KvOutput",
    "KvState",
    "Model",
    "Put",
    "Unread",
    "check",
]

DEFAULT_TIMEOUT_S: Final = 60.0
_CLOCK_EVERY_STEPS: Final = 1024
_END: Final = -1
_SHOWN_MAX: Final = 12

StateT = TypeVar("StateT")
InputT = TypeVar("InputT")
OutputT = TypeVar("OutputT")


class Model(Protocol[StateT, InputT, OutputT]):
    """A sequential specification: what one correct, non-concurrent object answers (rule 5)."""

    def init(self) -> StateT:
        """The state before any operation."""
        ...

    def step(self, state: StateT, input: InputT, output: OutputT | Unknown) -> tuple[bool, StateT]:
        """Whether ``input`` answered with ``output`` is correct in ``state``, and the state after it."""
        ...

    def partition(
        self, history: Sequence[Operation[InputT, OutputT]]
    ) -> Sequence[Sequence[Operation[InputT, OutputT]]]:
        """Independent sub-histories, each linearizable on its own iff the whole is (rule 2)."""
        ...


# -- the key-value register ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Put:
    """Set ``key`` to ``value``; answers None.

    ``unread`` is the model's own mark (rule 7), left False by callers.
    """

    key: str
    value: str
    unread: bool = field(default=False, compare=False, repr=False)

    def __str__(self) -> str:
        return f"put({self.key!r}, {self.value!r})"


@dataclass(frozen=True, slots=True)
class Get:
    """Read ``key``; answers its value, None when it does not exist."""

    key: str

    def __str__(self) -> str:
        return f"get({self.key!r})"


@dataclass(frozen=True, slots=True)
class Cas:
    """Set ``key`` to ``new`` if it holds ``expected`` (None: if it is absent); answers whether it did."""

    key: str
    expected: str | None
    new: str
    unread: bool = field(default=False, compare=False, repr=False)
    """The model's own mark for ``new`` (rule 7), left False by callers."""

    def __str__(self) -> str:
        return f"cas({self.key!r}, {self.expected!r}, {self.new!r})"


@dataclass(frozen=True, slots=True)
class Delete:
    """Remove ``key`` if it exists; answers None."""

    key: str

    def __str__(self) -> str:
        return f"delete({self.key!r})"


KvInput: TypeAlias = Put | Get | Cas | Delete
KvOutput: TypeAlias = str | bool | None


class Unread(Enum):
    """The type of the one value the model stores for every value nothing reads (rule 7)."""

    VALUE = "an unread value"

    def __repr__(self) -> str:
        return "<a value no read returns>"


KvState: TypeAlias = tuple[tuple[str, str | Unread], ...]
"""The (key, value) pairs of the keys that exist, sorted by key."""


class KvModel:
    """Keys holding string values, every key starting absent; partitioned by key."""

    def init(self) -> KvState:
        return ()

    def step(self, state: KvState, input: KvInput, output: KvOutput | Unknown) -> tuple[bool, KvState]:
        known = not isinstance(output, Unknown)
        current = _value_of(state, input.key)
        match input:
            case Get():
                return (not known or output == current), state
            case Put(key=key, value=value):
                assert output is None or not known, f"{input} answers None, not {output!r}"
                return True, _with_value(state, key, Unread.VALUE if input.unread else value)
            case Delete(key=key):
                assert output is None or not known, f"{input} answers None, not {output!r}"
                return True, _with_value(state, key, None)
            case Cas(key=key, expected=expected, new=new):
                assert isinstance(output, bool) or not known, f"{input} answers a bool, not {output!r}"
                swapped = current == expected
                if known and output is not swapped:
                    return False, state
                stored = Unread.VALUE if input.unread else new
                return True, (_with_value(state, key, stored) if swapped else state)

    def partition(
        self, history: Sequence[Operation[KvInput, KvOutput]]
    ) -> list[list[Operation[KvInput, KvOutput]]]:
        """One sub-history per key, in key order, with unread values marked (rule 7).

        Unknown reads constrain nothing and are left out.
        """
        by_key: dict[str, list[Operation[KvInput, KvOutput]]] = {}
        for operation in history:
            if isinstance(operation.input, Get) and not operation.outcome_known:
                continue
            by_key.setdefault(operation.input.key, []).append(operation)
        return [_mark_unread(by_key[key]) for key in sorted(by_key)]


KV_MODEL: Final = KvModel()


def _mark_unread(history: list[Operation[KvInput, KvOutput]]) -> list[Operation[KvInput, KvOutput]]:
    read: set[object] = {op.output for op in history if isinstance(op.input, Get) and op.outcome_known}
    read |= {op.input.expected for op in history if isinstance(op.input, Cas)}
    return [_marked_unread(operation, read) for operation in history]


def _marked_unread(
    operation: Operation[KvInput, KvOutput], read: set[object]
) -> Operation[KvInput, KvOutput]:
    match operation.input:
        case Put(value=value) | Cas(new=value) if value not in read:
            return replace(operation, input=replace(operation.input, unread=True))
    return operation


def _value_of(state: KvState, key: str) -> str | Unread | None:
    for stored_key, value in state:
        if stored_key == key:
            return value
    return None


def _with_value(state: KvState, key: str, value: str | Unread | None) -> KvState:
    others = tuple(pair for pair in state if pair[0] != key)
    return others if value is None else tuple(sorted((*others, (key, value))))


# -- results --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Counterexample(Generic[InputT, OutputT]):
    """Why one partition has no linearization.

    Attributes:
        operations: the partition's operations, in call order.
        linearized: the longest linearizable prefix the search found, in its order.
        state: the model's state after ``linearized``.
        stuck: an operation that returned before anything else could be
            linearized after that prefix, yet cannot take effect next itself.

    The operations are the model's partition's: equal to the history's, but
    not always the same objects (rule 7). Equal operations are distinct ones
    (a client may repeat a request, even at the same instant), so compare
    ``stuck`` and ``linearized`` by identity, never by value.
    """

    operations: tuple[Operation[InputT, OutputT], ...]
    linearized: tuple[Operation[InputT, OutputT], ...]
    state: object
    stuck: Operation[InputT, OutputT]


@dataclass(frozen=True, slots=True)
class CheckResult(Generic[InputT, OutputT]):
    """The answer of :func:`check`.

    Attributes:
        ok: True if linearizable, False if not, None if the check timed out (rule 6).
        counterexample: set when ``ok`` is False.
        explanation: for people: what was checked, or what went wrong and where.
        steps: how many model steps the search took (a measure of work that does not depend on the machine).
    """

    ok: bool | None
    counterexample: Counterexample[InputT, OutputT] | None
    explanation: str
    steps: int


# -- the search -----------------------------------------------------------------------------------


@overload
def check(
    history: Sequence[Operation[KvInput, KvOutput]], *, timeout_s: float | None = DEFAULT_TIMEOUT_S
) -> CheckResult[KvInput, KvOutput]: ...


@overload
def check(
    history: Sequence[Operation[InputT, OutputT]],
    model: Model[StateT, InputT, OutputT],
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> CheckResult[InputT, OutputT]: ...


def check(
    history: Sequence[Operation[Any, Any]],
    model: Model[Any, Any, Any] = KV_MODEL,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
) -> CheckResult[Any, Any]:
    """Whether ``history`` is linearizable under ``model`` (rules 1-6).

    Args:
        history: operations in any order (see :class:`~confagent.testing.HistoryRecorder`).
        model: the sequential specification; the key-value register by default.
        timeout_s: give up after this long and answer ``ok=None``; None waits as long as it takes.

    Returns:
        The answer, with a counterexample and an explanation when it is no.
    """
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    partitions = model.partition(sorted(history, key=_canonical_order))
    steps = 0
    for operations in partitions:
        if deadline is not None and time.monotonic() >= deadline:
            return _timed_out(timeout_s, steps)
        search = _Search(operations, model, deadline)
        ok = search.run()
        steps += search.steps
        if ok is None:
            return _timed_out(timeout_s, steps)
        if not ok:
            counterexample = search.counterexample()
            explanation = _explain(counterexample, search.others_called_before_stuck(), history)
            return CheckResult(False, counterexample, explanation, steps)
    explanation = f"linearizable: {len(history)} operations, {len(partitions)} partition(s) checked"
    return CheckResult(True, None, explanation, steps)


def _canonical_order(operation: Operation[Any, Any]) -> tuple[Any, ...]:
    """An order that does not depend on the caller's, so ties are broken the same way (rule 6)."""
    return (operation.call_ns, operation.return_ns, operation.client, repr(operation.input),
            repr(operation.output))


def _timed_out(timeout_s: float | None, steps: int) -> CheckResult[Any, Any]:
    return CheckResult(None, None, f"unknown: the check timed out after {timeout_s} s ({steps} steps)", steps)


class _Entries:
    """The calls and returns of known operations as a doubly linked list in time order (rule 3).

    Position 0 is the head. ``lift`` and ``unlift`` take an operation's two
    entries out and put them back; undone in reverse order, they restore the
    list exactly.
    """

    def __init__(self, operations: Sequence[Operation[Any, Any]], indexes: Sequence[int]) -> None:
        events = sorted([(operations[index].call_ns, 0, index) for index in indexes]
                        + [(operations[index].return_ns, 1, index) for index in indexes])
        size = len(events) + 1
        self.next = [*range(1, size), _END]
        self.prev = [_END, *range(size - 1)]
        self.operation = [_END] + [index for _, _, index in events]
        self.is_call = [False] + [kind == 0 for _, kind, _ in events]
        self.return_of = [_END] * size
        call_at = {index: position for position, (_, kind, index) in enumerate(events, 1) if kind == 0}
        for position, (_, kind, index) in enumerate(events, 1):
            if kind == 1:
                self.return_of[call_at[index]] = position

    def lift(self, call: int) -> None:
        for position in (call, self.return_of[call]):
            before, after = self.prev[position], self.next[position]
            self.next[before] = after
            if after != _END:
                self.prev[after] = before

    def unlift(self, call: int) -> None:
        for position in (self.return_of[call], call):
            before, after = self.prev[position], self.next[position]
            self.next[before] = position
            if after != _END:
                self.prev[after] = position


class _Pending:
    """The unknown operations not linearized yet, as a doubly linked list in call order (rule 4)."""

    def __init__(self, operations: Sequence[Operation[Any, Any]], indexes: Sequence[int]) -> None:
        ordered = sorted(indexes, key=lambda index: (operations[index].call_ns, index))
        size = len(ordered) + 1
        self.next = [*range(1, size), _END]
        self.prev = [_END, *range(size - 1)]
        self.operation = [_END, *ordered]
        self.call_ns = [0] + [operations[index].call_ns for index in ordered]

    def lift(self, position: int) -> None:
        before, after = self.prev[position], self.next[position]
        self.next[before] = after
        if after != _END:
            self.prev[after] = before

    def unlift(self, position: int) -> None:
        before, after = self.prev[position], self.next[position]
        self.next[before] = position
        if after != _END:
            self.prev[after] = position


@dataclass(frozen=True, slots=True)
class _Choice(Generic[StateT]):
    """One linearized operation on the search's stack, and what undoing it restores."""

    position: int  # in _Entries, or in _Pending if ``horizon_ns`` is set
    horizon_ns: int | float | None  # for an unknown operation: the time of the return that bounded its choice
    state_before: StateT


class _Search(Generic[StateT]):
    """One partition's search (rules 3 and 4), keeping the deepest partial linearization it reached.

    At each point the choices are the known calls before the first return in
    ``entries``, then the unknown operations called by that return. Trying the
    known ones first makes small sets of unknown operations come up first, so
    the memo's dominance test (rule 4) prunes the larger ones.
    """

    def __init__(
        self, operations: Sequence[Operation[Any, Any]], model: Model[StateT, Any, Any],
        deadline: float | None,
    ) -> None:
        self.operations = operations
        self.model = model
        self.deadline = deadline
        self.steps = 0
        known = [index for index, op in enumerate(operations) if op.outcome_known]
        unknown = [index for index, op in enumerate(operations) if not op.outcome_known]
        self.entries = _Entries(operations, known)
        self.pending = _Pending(operations, unknown)
        self.state = model.init()
        self.known_bits = 0
        self.unknown_bits = 0
        self.seen: dict[tuple[int, StateT], list[int]] = {}
        self.stack: list[_Choice[StateT]] = []
        self.deepest: list[_Choice[StateT]] = []
        self.deepest_state = self.state
        self.stuck: int | None = None  # the known operation whose return ended the deepest prefix

    def run(self) -> bool | None:
        """True if the partition is linearizable, False if not, None if the deadline passed."""
        entries, pending = self.entries, self.pending
        position, horizon_ns = entries.next[0], None
        for walked in itertools.count(1):
            if walked % _CLOCK_EVERY_STEPS == 0 and self._past_deadline():
                return None
            if horizon_ns is None:
                if position == _END:
                    return True
                if not entries.is_call[position]:
                    index = entries.operation[position]
                    self._note_stuck(index)
                    horizon_ns, position = self.operations[index].return_ns, pending.next[0]
                elif self._linearize(_Choice(position, None, self.state), entries.operation[position]):
                    position = entries.next[0]
                else:
                    position = entries.next[position]
            elif position != _END and pending.call_ns[position] <= horizon_ns:
                if self._linearize(_Choice(position, horizon_ns, self.state), pending.operation[position]):
                    position, horizon_ns = entries.next[0], None
                else:
                    position = pending.next[position]
            elif not self.stack:
                return False
            else:
                choice = self._undo()
                horizon_ns = choice.horizon_ns
                position = (entries if horizon_ns is None else pending).next[choice.position]
        raise AssertionError("unreachable: the walk ends by returning")

    def counterexample(self) -> Counterexample[Any, Any]:
        """What the failed search found; only after ``run`` answered False."""
        assert self.stuck is not None, "a failed search always met a return it could not pass"
        order = [self._operation_of(choice) for choice in self.deepest]
        by_call = sorted(self.operations, key=lambda op: (op.call_ns, op.return_ns))
        return Counterexample(tuple(by_call), tuple(order), self.deepest_state, self.operations[self.stuck])

    def others_called_before_stuck(self) -> list[Operation[Any, Any]]:
        """The operations called before the stuck one returned, neither in the prefix nor stuck.

        Told apart by their place in the partition, not by value nor by
        identity: a history may hold equal operations, even one object twice.
        """
        assert self.stuck is not None, "only after run answered False"
        placed = {self._operation_index(choice) for choice in self.deepest} | {self.stuck}
        return_ns = self.operations[self.stuck].return_ns
        others = [op for index, op in enumerate(self.operations)
                  if index not in placed and op.call_ns <= return_ns]
        return sorted(others, key=lambda op: (op.call_ns, op.return_ns))

    def _linearize(self, choice: _Choice[StateT], index: int) -> bool:
        """Take ``index`` as the next operation, if the model accepts it and rule 4 does not prune it."""
        self.steps += 1
        operation = self.operations[index]
        accepted, after = self.model.step(self.state, operation.input, operation.output)
        if not accepted:
            return False
        known_bits, unknown_bits = self.known_bits, self.unknown_bits
        if choice.horizon_ns is None:
            known_bits |= 1 << index
        else:
            unknown_bits |= 1 << index
        if not self._first_visit(known_bits, unknown_bits, after):
            return False
        self.stack.append(choice)
        self.state, self.known_bits, self.unknown_bits = after, known_bits, unknown_bits
        if choice.horizon_ns is None:
            self.entries.lift(choice.position)
        else:
            self.pending.lift(choice.position)
        if len(self.stack) > len(self.deepest):
            self.deepest, self.deepest_state, self.stuck = self.stack.copy(), after, None
        return True

    def _first_visit(self, known_bits: int, unknown_bits: int, state: StateT) -> bool:
        """Record the point; False if it, or one with a subset of its unknown operations, was seen."""
        unknown_sets = self.seen.setdefault((known_bits, state), [])
        if any(seen & ~unknown_bits == 0 for seen in unknown_sets):
            return False
        unknown_sets[:] = [seen for seen in unknown_sets if unknown_bits & ~seen != 0]
        unknown_sets.append(unknown_bits)
        return True

    def _undo(self) -> _Choice[StateT]:
        choice = self.stack.pop()
        index = self._operation_index(choice)
        self.state = choice.state_before
        if choice.horizon_ns is None:
            self.known_bits &= ~(1 << index)
            self.entries.unlift(choice.position)
        else:
            self.unknown_bits &= ~(1 << index)
            self.pending.unlift(choice.position)
        return choice

    def _operation_index(self, choice: _Choice[StateT]) -> int:
        lists = self.entries if choice.horizon_ns is None else self.pending
        return lists.operation[choice.position]

    def _operation_of(self, choice: _Choice[StateT]) -> Operation[Any, Any]:
        return self.operations[self._operation_index(choice)]

    def _note_stuck(self, index: int) -> None:
        if self.stuck is None and len(self.stack) == len(self.deepest):
            self.stuck = index

    def _past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline


# -- explanations ---------------------------------------------------------------------------------


def _explain(
    counterexample: Counterexample[Any, Any], pending: Sequence[Operation[Any, Any]],
    history: Sequence[Operation[Any, Any]],
) -> str:
    origin_ns = min(op.call_ns for op in history)
    stuck = counterexample.stuck
    prefix = counterexample.linearized
    lines = [
        f"not linearizable: {len(counterexample.operations)} operations of one partition have no "
        f"linearization (times in ms after the first call).",
        f"The longest linearizable prefix has {len(prefix)} operations"
        + (f"; its last {_SHOWN_MAX}:" if len(prefix) > _SHOWN_MAX else ":"),
        *(f"  {_span(op, origin_ns)} {op}" for op in prefix[-_SHOWN_MAX:]),
        f"leaving the state {counterexample.state!r}. Then this operation cannot take effect next:",
        f"  {_span(stuck, origin_ns)} {stuck}",
    ]
    if pending:
        lines.append("and no order of the other operations called before it returned lets it take effect:")
        lines.extend(f"  {_span(op, origin_ns)} {op}" for op in pending[:_SHOWN_MAX])
    if len(pending) > _SHOWN_MAX:
        lines.append(f"  ... and {len(pending) - _SHOWN_MAX} more")
    return "\n".join(lines)


def _span(operation: Operation[Any, Any], origin_ns: int) -> str:
    start = f"{(operation.call_ns - origin_ns) / 1e6:.3f}"
    end = "inf" if not operation.outcome_known else f"{(operation.return_ns - origin_ns) / 1e6:.3f}"
    return f"[{start}, {end}]"
