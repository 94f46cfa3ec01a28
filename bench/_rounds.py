"""Alternating rounds judged round by round: each round's ratio, their median, spread and confidence interval;
and the orders that make rounds alternate fairly.

A benchmark that measures two servers in alternating rounds (the same figure on both back to back, their
order flipped each round) can say more than the ratio of two medians: each round gives one ratio of two
measurements taken under the same load, and the rounds' ratios say how far the verdict can be trusted.

Rules:
1. A round's ratio is ours / theirs for the same figure in the same round.
2. The spread is the interquartile range of the rounds' ratios (``statistics.quantiles``, inclusive).
3. The interval is the distribution-free confidence interval of the median ratio (order statistics
   ``k`` and ``n + 1 - k``, ``k`` the largest rank with P(Binomial(n, 1/2) < k) at most half of
   ``1 - level``): it assumes only that rounds are independent, not that ratios are normal. Its
   exact coverage is given with it; with too few rounds for ``level`` (fewer than 6 for 95 %), the
   interval is the whole range of the rounds, with the lower coverage that has.
4. A verdict against a bound (1.0x: parity): ``met`` when the interval lies on the better side of
   it (the bound included), ``not met`` when it lies wholly on the worse side, otherwise ``not
   resolved``: the rounds do not tell the two apart at that bound. Fewer rounds than ``LEVEL``
   asks for (fewer than 6) resolve nothing.
5. A round measures every server in one of ``orders(n)``: every order of the ``n`` servers, chained
   so that each begins with the server the one before ended with (and the last ends with the first's
   first). Over ``n!`` rounds each server takes each place equally often, and follows each other
   server equally often: within a round's orders (each ordered pair is adjacent in as many orders
   as any other), from one group of figures to the next in a round (last, then first: each pair as
   often), and at the rounds' turns only a server following itself. A rotation (ABC, BCA, CAB) keeps
   one server always after the same other.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Spread", "median_rank", "orders", "spread"]

LEVEL = 0.95
"""The confidence asked of the median ratio's interval (rule 3)."""
MAX_SERVERS = 4
"""The most servers ``orders`` chains every order of (4! = 24 rounds balance them)."""


@dataclass(frozen=True, slots=True)
class Spread:
    """The rounds' ratios of one figure and what they say (module rules 1-3)."""

    ratios: tuple[float, ...]
    """Each round's ratio, sorted."""
    median: float
    q1: float
    q3: float
    low: float
    """The confidence interval of the median ratio: its lower end..."""
    high: float
    """... and its upper end."""
    coverage: float
    """The interval's exact coverage (at least ``LEVEL`` when there are enough rounds)."""

    def at_least(self, bound: float) -> int:
        """How many rounds' ratios are ``bound`` or more."""
        return sum(ratio >= bound for ratio in self.ratios)

    def verdict(self, bound: float, *, higher_is_better: bool) -> str:
        """Rule 4: ``met``, ``not met`` or ``not resolved`` against ``bound``."""
        if self.coverage < LEVEL:
            return f"not resolved: too few rounds ({len(self.ratios)}) for a {100 * LEVEL:.0f} % interval"
        good, bad = (self.low >= bound, self.high < bound) if higher_is_better else \
            (self.high <= bound, self.low > bound)
        return "met" if good else "not met" if bad else "not resolved"

    def describe(self) -> str:
        """One line: median, interquartile range, interval with its coverage, rounds at or above 1.0x."""
        return (f"median {self.median:.3f}x, IQR {self.q1:.3f}-{self.q3:.3f}x, "
                f"{100 * self.coverage:.1f} % CI {self.low:.3f}-{self.high:.3f}x, "
                f"{self.at_least(1.0)} of {len(self.ratios)} rounds >= 1.0x")


def median_rank(rounds: int, level: float = LEVEL) -> tuple[int, float]:
    """Rule 3's rank ``k`` (1-based; the interval is ``[x_k, x_(n+1-k)]``) and the coverage it has."""
    k = 1
    while k < (rounds + 1) // 2 and 2 * _below(k + 1, rounds) <= 1 - level:
        k += 1
    return k, 1 - 2 * _below(k, rounds)


def _below(k: int, n: int) -> float:
    """P(Binomial(n, 1/2) < k)."""
    return sum(math.comb(n, i) for i in range(k)) / 2 ** n


def spread(ours: Sequence[float], theirs: Sequence[float], level: float = LEVEL) -> Spread:
    """The rounds' ratios ``ours[i] / theirs[i]`` (rule 1) and their statistics (rules 2 and 3).

    Raises:
        ValueError: no rounds, or the two sequences differ in length.
    """
    if not ours or len(ours) != len(theirs):
        raise ValueError(f"rounds to compare: {len(ours)} and {len(theirs)}")
    pairs = zip(ours, theirs, strict=True)
    ratios = tuple(sorted(mine / other if other else math.inf for mine, other in pairs))
    n = len(ratios)
    q1, _, q3 = statistics.quantiles(ratios, n=4, method="inclusive") if n > 1 else ratios * 3
    k, coverage = median_rank(n, level)
    return Spread(ratios, statistics.median(ratios), q1, q3, ratios[k - 1], ratios[n - k], coverage)


def orders(servers: int) -> tuple[tuple[int, ...], ...]:
    """Rule 5's chain of every order of ``servers`` servers (0 to ``servers - 1``), the first ``0, 1, ...``.

    Raises:
        ValueError: fewer than 1 server, or more than ``MAX_SERVERS``.
    """
    if not 1 <= servers <= MAX_SERVERS:
        raise ValueError(f"orders of 1 to {MAX_SERVERS} servers, not {servers}")
    every = list(itertools.permutations(range(servers)))
    chain = _chained([every[0]], set(every[1:]))
    assert chain is not None, f"no chain of the orders of {servers}"
    return tuple(chain)


def _chained(chain: list[tuple[int, ...]], left: set[tuple[int, ...]]) -> list[tuple[int, ...]] | None:
    """``chain`` continued through every order in ``left`` (depth first), closing on its first; or None."""
    if not left:
        return chain if chain[-1][-1] == chain[0][0] else None
    for order in sorted(one for one in left if one[0] == chain[-1][-1]):
        if (found := _chained([*chain, order], left - {order})) is not None:
            return found
    return None
