"""Histories for the checker's tests: a simulated atomic register, mutations, and a brute-force checker.

Both the register here and the brute force are written from the definitions,
sharing no code with the checker: a store is a dict; a linearization is any
order of the operations in which none comes after one that returned before
it was called, where each known output is the one the store gives at that
point, and unknown operations may be anywhere or nowhere.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

from confagent.testing._history import UNKNOWN, Operation
from confagent.testing._linearizability import Cas, Delete, Get, KvInput, KvOutput, Put

__all__ = [
    "KvOperation",
    "Outcome",
    "Plan",
    "apply",
    "brute_force_linearizable",
    "random_plans",
    "simulate",
    "with_output",
]

KvOperation = Operation[KvInput, KvOutput]


class Outcome(Enum):
    KNOWN = "known"
    UNKNOWN_APPLIED = "unknown, took effect"
    UNKNOWN_LOST = "unknown, never took effect"


@dataclass(frozen=True, slots=True)
class Plan:
    """One operation of a simulated client: its input, how long each part takes, and how it ends."""

    client: int
    input: KvInput
    think_ns: int
    until_effect_ns: int
    until_return_ns: int
    outcome: Outcome = Outcome.KNOWN


def apply(store: dict[str, str], input: KvInput) -> KvOutput:
    """Run ``input`` on ``store`` (changing it) and return the answer."""
    if isinstance(input, Get):
        return store.get(input.key)
    if isinstance(input, Put):
        store[input.key] = input.value
        return None
    if isinstance(input, Delete):
        store.pop(input.key, None)
        return None
    if store.get(input.key) != input.expected:
        return False
    store[input.key] = input.new
    return True


def simulate(plans: Sequence[Plan]) -> list[KvOperation]:
    """The history of clients running ``plans`` (each client's in order) against one atomic register.

    Each operation takes effect at one instant between its call and its return,
    so the history is linearizable by construction.
    """
    clock_ns: dict[int, int] = {}
    timed: list[tuple[int, int, int, int]] = []  # (effect, plan number, call, return)
    for number, plan in enumerate(plans):
        call_ns = clock_ns.get(plan.client, 0) + plan.think_ns
        effect_ns = call_ns + plan.until_effect_ns
        return_ns = effect_ns + plan.until_return_ns
        clock_ns[plan.client] = return_ns
        timed.append((effect_ns, number, call_ns, return_ns))
    store: dict[str, str] = {}
    history: list[KvOperation] = []
    for _, number, call_ns, return_ns in sorted(timed):
        plan = plans[number]
        output = None if plan.outcome is Outcome.UNKNOWN_LOST else apply(store, plan.input)
        if plan.outcome is Outcome.KNOWN:
            history.append(Operation(plan.client, call_ns, return_ns, plan.input, output))
        else:
            history.append(Operation(plan.client, call_ns, math.inf, plan.input, UNKNOWN))
    return sorted(history, key=lambda op: op.call_ns)


def random_plans(rng: random.Random, *, clients: int, per_client: int, keys: Sequence[str],
                 unknown_rate: float) -> list[Plan]:
    """Plans for clients whose operations overlap a lot: each takes far longer than the pause between."""
    plans = []
    for _ in range(per_client):
        for client in range(clients):
            key, value = rng.choice(keys), str(rng.randrange(10))
            choices: list[KvInput] = [Put(key, value), Get(key), Cas(key, str(rng.randrange(10)), value),
                                      Cas(key, None, value), Delete(key)]
            input = rng.choice(choices)
            outcome = Outcome.KNOWN
            if rng.random() < unknown_rate:
                outcome = rng.choice([Outcome.UNKNOWN_APPLIED, Outcome.UNKNOWN_LOST])
            plans.append(Plan(client, input, rng.randrange(1_000), rng.randrange(50_000),
                              rng.randrange(50_000), outcome))
    return plans


def with_output(history: Sequence[KvOperation], index: int, output: KvOutput) -> list[KvOperation]:
    """``history`` with the answer of operation ``index`` replaced (a known answer stays known)."""
    changed = list(history)
    if changed[index].outcome_known:
        changed[index] = replace(changed[index], output=output)
    return changed


def brute_force_linearizable(history: Sequence[KvOperation]) -> bool:
    """Whether any order of ``history`` is a linearization, trying them all (small histories only).

    Operations are told apart by their place in ``history``: equal ones, even
    one object listed twice, are distinct operations.
    """
    return _extends(tuple(history), tuple(range(len(history))), {})


def _extends(history: tuple[KvOperation, ...], remaining: tuple[int, ...], store: dict[str, str]) -> bool:
    if all(not history[index].outcome_known for index in remaining):
        return True
    for index in remaining:
        op = history[index]
        if any(history[other].return_ns < op.call_ns for other in remaining):
            continue
        after = dict(store)
        output = apply(after, op.input)
        if op.outcome_known and output != op.output:
            continue
        if _extends(history, tuple(other for other in remaining if other != index), after):
            return True
    return False
