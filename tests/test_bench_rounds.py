"""bench/_rounds.py: the per-round ratios' median, spread, interval and verdicts that grpc_bench prints."""

from __future__ import annotations

import collections
import itertools
import statistics

import pytest

from tests.bench_modules import load_bench_module

rounds = load_bench_module("_rounds")


def _coverage_by_enumeration(n: int, k: int) -> float:
    """The chance that ``[x_k, x_(n+1-k)]`` holds the median: every equally likely pattern of which
    rounds fall below it, counted."""
    held = sum(k <= sum(below) <= n - k for below in itertools.product((0, 1), repeat=n))
    return held / 2 ** n


@pytest.mark.parametrize("n", range(1, 15))
def test_the_median_interval_is_the_narrowest_with_95_percent_coverage_where_one_exists(n: int) -> None:
    k, coverage = rounds.median_rank(n)
    assert coverage == pytest.approx(_coverage_by_enumeration(n, k))
    if n >= 6:
        assert coverage >= 0.95
        assert k + 1 > (n + 1) // 2 or _coverage_by_enumeration(n, k + 1) < 0.95
    else:
        assert (k, coverage) == (1, pytest.approx(1 - 2 / 2 ** n))


def test_a_spread_is_taken_from_the_rounds_ratios() -> None:
    ours = [2.0, 10.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 1.0]
    spread = rounds.spread(ours, [2.0] * 10)
    assert spread.ratios == tuple(sorted(x / 2 for x in ours))
    assert spread.median == 2.75
    assert (spread.q1, spread.q3) == (1.625, 3.875)  # 3.25 and 7.75 of 1..10, halved
    assert (spread.low, spread.high) == (1.0, 4.5)  # the 2nd and 9th of ten
    assert spread.at_least(1.0) == 9
    assert statistics.median(spread.ratios) == spread.median


@pytest.mark.parametrize(("ratios", "higher", "verdict"), [
    ([1.01, 1.02, 1.0, 1.05, 1.03, 1.04, 1.06], True, "met"),
    ([0.97, 1.02, 0.99, 1.05, 1.03, 0.98, 1.01], True, "not resolved"),
    ([0.97, 0.92, 0.99, 0.95, 0.93, 0.98, 0.96], True, "not met"),
    ([0.97, 0.92, 0.99, 0.95, 0.93, 0.98, 1.0], False, "met"),
    ([0.97, 1.02, 0.99, 1.05, 1.03, 0.98, 1.01], False, "not resolved"),
    ([1.01, 1.02, 1.03, 1.05, 1.03, 1.04, 1.06], False, "not met"),
])
def test_a_verdict_needs_the_whole_interval_on_one_side(ratios: list[float], higher: bool,
                                                        verdict: str) -> None:
    spread = rounds.spread(ratios, [1.0] * len(ratios))
    assert spread.verdict(1.0, higher_is_better=higher) == verdict


def test_too_few_rounds_resolve_nothing() -> None:
    spread = rounds.spread([0.5] * 5, [1.0] * 5)  # every round far below: the interval covers 94 %
    assert spread.verdict(1.0, higher_is_better=True).startswith("not resolved: too few rounds (5)")
    assert rounds.spread([0.5] * 6, [1.0] * 6).verdict(1.0, higher_is_better=True) == "not met"


def test_rounds_to_compare_must_pair_up() -> None:
    with pytest.raises(ValueError, match="rounds to compare"):
        rounds.spread([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="rounds to compare"):
        rounds.spread([], [])


@pytest.mark.parametrize("servers", range(1, rounds.MAX_SERVERS + 1))
def test_orders_put_each_server_in_each_place_and_after_each_other_equally_often(servers: int) -> None:
    chain = rounds.orders(servers)
    assert sorted(chain) == list(itertools.permutations(range(servers)))
    assert chain[0] == tuple(range(servers))
    for place in range(servers):
        assert collections.Counter(order[place] for order in chain) == {s: len(chain) // servers
                                                                       for s in range(servers)}
    for groups in (1, 2, 3):  # every group of figures measured on each server in the round's order
        run = [server for order in chain for _ in range(groups) for server in order]
        after = collections.Counter(zip([run[-1], *run[:-1]], run, strict=True))  # the run as a cycle
        others = {pair: count for pair, count in after.items() if pair[0] != pair[1]}
        assert len(set(others.values())) <= 1 and len(others) == servers * (servers - 1)


def test_rounds_turn_on_the_server_measured_last() -> None:
    chain = rounds.orders(3)
    assert all(one[-1] == chain[(n + 1) % len(chain)][0] for n, one in enumerate(chain))


def test_orders_of_no_server_or_too_many_are_refused() -> None:
    for servers in (0, rounds.MAX_SERVERS + 1):
        with pytest.raises(ValueError, match="orders of 1 to"):
            rounds.orders(servers)
